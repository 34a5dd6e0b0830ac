"""Hostile and wrong weight files: refused with a message naming the file and the problem, through
the library and through ``irstudio restore --weights``; shipped weights checked against the
manifest's sha256."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from irstudio import paths
from irstudio.cli import main
from irstudio.models.catalog import resolve_id
from irstudio.models.loading import (
    ShippedWeights,
    WeightsError,
    load_model,
    open_model,
    read_manifest,
    save_weights,
    sha256_of,
    verified_shipped_path,
    verify_weights,
)
from irstudio.models.spec import ModelSpec, Task


class _WritesAFile:
    """Unpickling this calls ``open(marker, "w")``: code execution that leaves evidence."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def _photo(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((16, 16, 3), 90, np.uint8)).save(folder / "photo.png")
    return folder / "photo.png"


def _restore_with(weights: Path, model_id: str, folder: Path) -> list[str]:
    return ["restore", str(_photo(folder)), "-m", model_id, "--weights", str(weights)]


@pytest.mark.parametrize("container", ["raw pickle", "torch.save zip"])
def test_a_pickle_that_would_run_code_is_refused_by_the_cli(tmp_path: Path, capsys, container: str) -> None:
    marker = tmp_path / "code-ran"
    evil = tmp_path / "evil.pth"
    payload = {"conv.weight": _WritesAFile(marker)}
    if container == "raw pickle":
        evil.write_bytes(pickle.dumps(payload, protocol=2))
    else:
        torch.save(payload, evil)
    code = main(_restore_with(evil, "compacter-x1", tmp_path / "in"))
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    assert "evil.pth" in err and "refused" in err and "could run code" in err
    assert "GLOBAL io.open" in err and "\x1b" not in err  # names the culprit, no colour codes
    assert not marker.exists()
    assert sorted(p.name for p in (tmp_path / "in").iterdir()) == ["photo.png"]


def test_weights_of_another_architecture_name_both_through_the_cli(tmp_path: Path, capsys) -> None:
    asid = resolve_id("asid-x2")
    weights = save_weights(asid.build(), tmp_path / "asid.safetensors", spec=asid)
    assert main(_restore_with(weights, "compacter-x2", tmp_path / "in")) == 1
    err = capsys.readouterr().err
    assert "asid.safetensors" in err and "architecture 'asid', not 'compacter'" in err
    assert sorted(p.name for p in (tmp_path / "in").iterdir()) == ["photo.png"]


def test_weights_of_another_scale_name_the_wrongly_shaped_keys_through_the_cli(
    tmp_path: Path, capsys
) -> None:
    x2 = resolve_id("compacter-x2")
    weights = save_weights(x2.build(), tmp_path / "x2.safetensors", spec=x2)
    assert main(_restore_with(weights, "compacter-x4", tmp_path / "in")) == 1
    err = capsys.readouterr().err
    assert "x2.safetensors" in err and "wrong shape" in err
    assert "(file (12," in err and "model (48," in err  # the x2 head has 3*2*2 channels, x4 has 3*4*4
    assert sorted(p.name for p in (tmp_path / "in").iterdir()) == ["photo.png"]


def test_a_plain_state_dict_with_a_wrong_shape_names_key_and_shapes(tmp_path: Path, capsys) -> None:
    spec = resolve_id("compacter-x1")
    state = spec.build().state_dict()
    key = next(iter(state))
    state[key] = torch.zeros(2, 2)
    torch.save(state, tmp_path / "edited.pth")
    assert main(_restore_with(tmp_path / "edited.pth", "compacter-x1", tmp_path / "in")) == 1
    err = capsys.readouterr().err
    assert (
        "edited.pth" in err
        and f"{key} (file (2, 2), model {tuple(spec.build().state_dict()[key].shape)})" in err
    )


# ---------------------------------------------------------------------------------------------- sha256


def _tiny() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.Conv2d(4, 3, 3, padding=1))


TINY = ModelSpec(id="tiny", name="Tiny", arch="tinynet", tasks=(Task.DENOISE,), scale=1, build=_tiny)


def _shipped(folder: Path, *, sha256: str | None = None) -> Path:
    """A weights folder with tiny.safetensors and a manifest listing it; returns the manifest."""
    folder.mkdir(parents=True, exist_ok=True)
    weights = save_weights(_tiny(), folder / "tiny.safetensors", spec=TINY)
    entry = {"id": "tiny-v1", "preset": "tiny", "file": weights.name, "sha256": sha256 or sha256_of(weights)}
    manifest = folder / "manifest.json"
    manifest.write_text(json.dumps({"format": 1, "models": [entry]}))
    return manifest


def test_manifest_entries_are_read(tmp_path: Path) -> None:
    manifest = _shipped(tmp_path)
    read = read_manifest(manifest)
    (entry,) = read.entries
    assert isinstance(entry, ShippedWeights)
    assert (entry.id, entry.preset, entry.path) == ("tiny-v1", "tiny", tmp_path / "tiny.safetensors")
    assert read.by_id("tiny-v1") is entry and read.by_file("tiny.safetensors") is entry
    assert read.by_id("tiny") is None and read.by_file("other.safetensors") is None
    assert read.records() == {"tiny-v1": entry.entry} and read.document["models"] == [dict(entry.entry)]
    assert verify_weights(entry.path, entry.sha256) == entry.path
    absent = read_manifest(tmp_path / "absent.json")
    assert absent.entries == () and absent.document == {"format": 1, "models": []}
    for shipped in read_manifest(paths.manifest_path()).entries:  # the repository's own shipped weights
        assert verify_weights(shipped.path, shipped.sha256) == shipped.path


def test_a_file_that_differs_from_the_manifest_is_refused_naming_it(tmp_path: Path) -> None:
    manifest = _shipped(tmp_path)
    (entry,) = read_manifest(manifest).entries
    data = bytearray(entry.path.read_bytes())
    data[-1] ^= 0xFF  # one flipped bit in the last tensor
    entry.path.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match=r"tiny\.safetensors: refused: its sha256 is [0-9a-f]{64}"):
        verify_weights(entry.path, entry.sha256)
    with pytest.raises(WeightsError, match=r"tiny\.safetensors: refused"):
        verified_shipped_path("tiny.safetensors", manifest)
    entry.path.write_bytes(bytes(data[:100]))  # a partial copy
    with pytest.raises(WeightsError, match="the manifest says"):
        verify_weights(entry.path, entry.sha256)
    entry.path.unlink()
    with pytest.raises(WeightsError, match=r"tiny\.safetensors: shipped weight file is missing"):
        verify_weights(entry.path, entry.sha256)


def test_open_model_checks_shipped_weights_before_loading(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(paths, "install_root", lambda: tmp_path)
    manifest = _shipped(tmp_path / "weights")
    shipped_spec = ModelSpec(
        id="tiny",
        name="Tiny",
        arch="tinynet",
        tasks=(Task.DENOISE,),
        scale=1,
        build=_tiny,
        weights="tiny.safetensors",
    )
    reference = load_model(shipped_spec, tmp_path / "weights" / "tiny.safetensors")
    opened = open_model(shipped_spec)
    for key, value in opened.state_dict().items():
        torch.testing.assert_close(value, reference.state_dict()[key])
    manifest.write_text(json.dumps({"format": 1, "models": [{"id": "tiny", "sha256": "0" * 64}]}))
    with pytest.raises(WeightsError, match=r"tiny\.safetensors: refused"):
        open_model(shipped_spec)
    manifest.write_text(json.dumps({"format": 1, "models": []}))
    with pytest.raises(WeightsError, match="not listed in the weights manifest"):
        open_model(shipped_spec)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("{not json", "not a readable weights manifest"),
        ('{"format": 1}', "needs a 'models' list"),
        ('{"models": [{"sha256": "' + "a" * 64 + '"}]}', r"models\[0\] has no 'id'"),
        ('{"models": [{"id": "m", "sha256": "ABC"}]}', "64 lower-case hex digits"),
        ('{"models": [{"id": "m", "file": "../../etc/x", "sha256": "' + "a" * 64 + '"}]}', "plain file name"),
        (
            '{"models": [{"id": "m", "sha256": "'
            + "a" * 64
            + '"}, {"id": "m", "sha256": "'
            + "b" * 64
            + '"}]}',
            "duplicate ids m",
        ),
    ],
)
def test_a_malformed_manifest_is_refused_naming_it(tmp_path: Path, document: str, message: str) -> None:
    (tmp_path / "manifest.json").write_text(document)
    with pytest.raises(WeightsError, match=message) as caught:
        read_manifest(tmp_path / "manifest.json")
    assert "manifest.json" in str(caught.value)
