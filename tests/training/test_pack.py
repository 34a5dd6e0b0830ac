"""Training packs: seeded crops within a byte budget, traceable, never overwriting, cancellable."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from irstudio.cli import main
from irstudio.core.cancel import CancelToken
from irstudio.core.image_io import read_image, write_image
from irstudio.training.pack import PACK_INDEX, make_pack
from tests.training.helpers import drain


def _folder(root: Path, name: str, count: int, size: tuple[int, int], seed: int) -> Path:
    folder = root / name
    (folder / "sub").mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for i in range(count):
        where = folder / "sub" if i % 2 else folder
        write_image(where / f"{name}{i}.png", rng.random((*size, 3), dtype=np.float32))
    return folder


@pytest.fixture
def sources(tmp_path: Path) -> list[Path]:
    return [_folder(tmp_path, "a", 6, (80, 100), 1), _folder(tmp_path, "b", 3, (40, 30), 2)]


def test_pack_crops_every_source_in_turn_and_traces_each_file(sources, tmp_path) -> None:
    reports, summary = drain(make_pack(sources, tmp_path / "pack", budget_bytes=10**7, crop=64))
    assert summary.files == 9 and not summary.full and [r.files for r in reports] == list(range(1, 10))
    index = json.loads((tmp_path / "pack" / PACK_INDEX).read_text())
    assert [e["folder"] for e in index["files"][:6]] == ["a", "b", "a", "b", "a", "b"]  # round robin
    for entry in index["files"]:
        y0, x0, y1, x1 = entry["box"]
        crop = read_image(tmp_path / "pack" / entry["file"]).rgb
        source = read_image(tmp_path / entry["folder"] / entry["source"]).rgb
        assert crop.shape[:2] == (y1 - y0, x1 - x0) == (min(64, source.shape[0]), min(64, source.shape[1]))
        np.testing.assert_allclose(crop, source[y0:y1, x0:x1], atol=0.5 / 255)  # 8-bit PNG of the source
    assert summary.bytes == sum(p.stat().st_size for p in (tmp_path / "pack").glob("*.png"))


def test_pack_stops_at_the_budget_and_is_reproducible(sources, tmp_path) -> None:
    one_file = 64 * 64 * 3  # random pixels barely compress: about one crop per 12 KiB
    _, first = drain(make_pack(sources, tmp_path / "p1", budget_bytes=3 * one_file, crop=64, seed=5))
    _, second = drain(make_pack(sources, tmp_path / "p2", budget_bytes=3 * one_file, crop=64, seed=5))
    assert first.full and 1 <= first.files < 9 and first.bytes <= 3 * one_file
    assert (second.files, second.bytes) == (first.files, first.bytes)
    names = sorted(p.name for p in (tmp_path / "p1").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "p2").iterdir())
    for p in (tmp_path / "p1").glob("*.png"):
        assert p.read_bytes() == (tmp_path / "p2" / p.name).read_bytes()


def test_pack_never_writes_into_a_folder_with_files(sources, tmp_path) -> None:
    out = tmp_path / "used"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not an empty folder"):
        next(make_pack(sources, out, budget_bytes=10**6))
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_cancel_leaves_a_valid_smaller_pack_and_unreadable_files_are_skipped(sources, tmp_path) -> None:
    (sources[0] / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    cancel = CancelToken()
    work = make_pack(sources, tmp_path / "pack", budget_bytes=10**7, crop=32, cancel=cancel)
    next(work)
    next(work)
    cancel.cancel()
    _, summary = drain(work)
    index = json.loads((tmp_path / "pack" / PACK_INDEX).read_text())
    assert summary.files == len(index["files"]) == 2
    _, whole = drain(make_pack(sources, tmp_path / "whole", budget_bytes=10**7, crop=32))
    assert any("broken.png" in line for line in whole.skipped) and whole.files == 9


def test_cli_pack_reports_and_refuses_to_overwrite(sources, tmp_path, capsys) -> None:
    out = tmp_path / "cli-pack"
    argv = ["weights", "pack", *map(str, sources), "--out", str(out), "--crop", "48", "--budget-mib", "1"]
    assert main(argv) == 0
    assert "9 files" in capsys.readouterr().out
    assert main(argv) == 1
    assert "not an empty folder" in capsys.readouterr().err
