"""``irstudio maps``: writes the maps and charts as PNG files and never overwrites one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from irstudio.cli import main
from irstudio.core.image_io import read_image, write_image
from tests.inference.maps_helpers import single_thread

_one_thread = pytest.fixture(scope="module", autouse=True)(single_thread)


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    yy, xx = np.mgrid[0:24, 0:32] / 24.0
    rgb = np.stack([0.5 + 0.4 * np.sin(6 * xx), 0.5 + 0.4 * np.cos(5 * yy), (xx + yy) / 3], axis=2)
    return write_image(tmp_path / "photo.png", rgb.astype(np.float32))


def _pngs(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.glob("*.png"))}


def test_attention_maps_are_written_once_and_never_overwritten(photo: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "maps"
    args = [
        "maps", str(photo), "--model", "compacter-x2", "--kind", "attention", "--pixel", "9,5",
        "--layer", "layers.0.blocks.1.attn", "--device", "cpu", "--out", str(out),
    ]  # fmt: skip
    assert main(args) == 0
    written = _pngs(out)
    prefix = "photo_compacter-x2_attention_layers.0.blocks.1.attn_x9y5_"
    keys = ("spatial-h0", "spatial-h1", "spatial-h2", "spatial-h3", "channel", "spatial-gate", "channel-gate")
    assert set(written) == {f"{prefix}{key}.png" for key in keys}
    picture = read_image(out / f"{prefix}spatial-h0.png").rgb
    assert picture.shape[0] > 24 * 4 and picture.shape[1] > 32 * 4  # enlarged, with title and colour bar
    summary = capsys.readouterr().out
    assert "row sum, head 0: 1" in summary
    assert main(args) == 0
    assert _pngs(out) == written  # the second run skipped every file
    assert "exists, skipped" in capsys.readouterr().err


def test_fft_and_error_maps_of_a_classical_model(photo: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "maps"
    assert main(["maps", str(photo), "-m", "identity", "-k", "fft", "-o", str(out)]) == 0
    names = set(_pngs(out))
    spectra = {f"photo_identity_fft_fft-{k}.png" for k in ("input", "output", "difference")}
    spectra |= {f"photo_identity_fft_grid-{k}.png" for k in ("input", "output")}
    assert names == spectra | {"photo_identity_fft_radial.png"}
    assert "HF ratio, output" in capsys.readouterr().out
    reference = tmp_path / "reference.png"
    write_image(reference, np.zeros((24, 32, 3), dtype=np.float32))
    assert (
        main(
            [
                "maps",
                str(photo),
                "-m",
                "identity",
                "-k",
                "error",
                "--reference",
                str(reference),
                "-o",
                str(out),
            ]
        )
        == 0
    )
    assert {"photo_identity_error_error-abs.png", "photo_identity_error_error-signed.png"} <= set(_pngs(out))


def test_bad_requests_exit_with_one_error_line(photo: Path, tmp_path: Path, capsys) -> None:
    assert main(["maps", str(photo), "-m", "identity", "-k", "error", "-o", str(tmp_path)]) == 1
    assert "needs a reference" in capsys.readouterr().err
    assert main(["maps", str(photo), "-m", "identity", "-k", "attention", "-o", str(tmp_path)]) == 1
    assert "no attention maps" in capsys.readouterr().err
    assert (
        main(
            [
                "maps",
                str(photo),
                "-m",
                "compacter-x2",
                "-k",
                "attention",
                "--pixel",
                "99,1",
                "-o",
                str(tmp_path),
            ]
        )
        == 1
    )
    assert "outside" in capsys.readouterr().err


def test_list_layers(capsys) -> None:
    assert main(["maps", "unused.png", "-m", "asid-x2", "-k", "attention", "-o", ".", "--list-layers"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[0] for line in lines] == ["block0", "block1", "block2"]
