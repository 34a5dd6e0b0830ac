"""Folder batches: mirrored tree, skip existing, per-file errors, journal, resume after cancel or crash."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from irstudio.cli import main
from irstudio.core.cancel import Cancelled, CancelToken
from irstudio.core.image_io import read_image
from irstudio.inference.batch import (
    JOURNAL_NAME,
    BatchError,
    BatchEvent,
    BatchEventKind,
    BatchRequest,
    default_output_dir,
    journal_path,
    plan_batch,
    read_journal,
    run_batch,
    run_batch_request,
)
from irstudio.inference.runner import TilePlan
from tests.training.helpers import drain

PLAN = TilePlan(tile=16, context=4)  # 40x30 images: 6 tiles each


class Brighten(nn.Module):
    """Adds 0.1 (so outputs differ from inputs); optionally raises on the n-th forward call."""

    def __init__(self, fail_on_call: int | None = None) -> None:
        super().__init__()
        self.calls = 0
        self.fail_on_call = fail_on_call

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        if self.calls == self.fail_on_call:
            raise RuntimeError("simulated crash inside the model")
        return x + 0.1


def write_photo(path: Path, seed: int, size: tuple[int, int] = (40, 30), mode: str = "RGB") -> np.ndarray:
    path.parent.mkdir(parents=True, exist_ok=True)
    channels = {"RGB": 3, "RGBA": 4}[mode]
    pixels = np.random.default_rng(seed).integers(0, 200, (size[1], size[0], channels), dtype=np.uint8)
    Image.fromarray(pixels, mode).save(path)
    return pixels


def five_files_one_corrupt(root: Path) -> Path:
    """in/a.png, in/b.jpg, in/sub/c.png, in/sub/deep/d.tif, in/sub/broken.png (not an image)."""
    source = root / "in"
    write_photo(source / "a.png", 1)
    write_photo(source / "b.jpg", 2)
    write_photo(source / "sub" / "c.png", 3)
    write_photo(source / "sub" / "deep" / "d.tif", 4)
    (source / "sub" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not really a PNG")
    return source


def files_under(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def started(events: list[BatchEvent]) -> list[str]:
    return [e.item.relative for e in events if e.kind is BatchEventKind.STARTED]


EXPECTED_OUTPUTS = {
    "a_m.png",
    "b_m.png",
    "sub/c_m.png",
    "sub/deep/d_m.png",
}


# ----------------------------------------------------------------------------- planning


def test_plan_mirrors_nested_folders_and_leaves_out_other_files(tmp_path: Path) -> None:
    source = five_files_one_corrupt(tmp_path)
    (source / "notes.txt").write_text("not an image")
    write_photo(source / ".hidden.png", 5)
    write_photo(source / ".cache" / "x.png", 6)
    items = plan_batch(source, tmp_path / "out", "m")
    assert [i.relative for i in items] == ["a.png", "b.jpg", "sub/broken.png", "sub/c.png", "sub/deep/d.tif"]
    out = (tmp_path / "out").resolve()
    assert [i.target.relative_to(out).as_posix() for i in items] == [
        "a_m.png",
        "b_m.png",
        "sub/broken_m.png",
        "sub/c_m.png",
        "sub/deep/d_m.png",
    ]
    assert all(i.model == "m" for i in items)
    flat = plan_batch(source, tmp_path / "out", "m", recursive=False)
    assert [i.relative for i in flat] == ["a.png", "b.jpg"]


def test_plan_keeps_sources_with_the_same_stem_apart(tmp_path: Path) -> None:
    write_photo(tmp_path / "in" / "x.png", 1)
    write_photo(tmp_path / "in" / "x.jpg", 2)
    targets = [i.target.name for i in plan_batch(tmp_path / "in", tmp_path / "out", "m")]
    assert targets == ["x-jpg_m.png", "x-png_m.png"]


def test_plan_skips_an_output_folder_inside_the_input_and_refuses_the_input_itself(tmp_path: Path) -> None:
    source = tmp_path / "in"
    write_photo(source / "a.png", 1)
    write_photo(source / "restored" / "a_m.png", 2)  # an earlier run's output
    assert [i.relative for i in plan_batch(source, source / "restored", "m")] == ["a.png"]
    with pytest.raises(BatchError, match="must differ"):
        plan_batch(source, source, "m")
    with pytest.raises(BatchError, match="no such folder"):
        plan_batch(tmp_path / "missing", tmp_path / "out", "m")
    assert default_output_dir(source, "m") == (tmp_path / "in_m").resolve()


# ----------------------------------------------------------------------------- running


def test_five_files_with_one_corrupt_give_four_outputs_and_one_error(tmp_path: Path) -> None:
    source = five_files_one_corrupt(tmp_path)
    out = tmp_path / "out"
    items = plan_batch(source, out, "m")
    events, report = drain(run_batch(Brighten(), items, PLAN, journal=journal_path(out)))

    assert files_under(out) == EXPECTED_OUTPUTS | {JOURNAL_NAME}
    assert len(report.written) == 4 and not report.skipped
    assert [f.source.name for f in report.failed] == ["broken.png"]
    failure = report.failed[0]
    assert failure.relative == "sub/broken.png" and failure.reason.startswith("not a readable PNG image")
    assert failure.message == f"{failure.source}: {failure.reason}"
    assert report.summary() == "4 written, 0 skipped, 1 failed"

    restored = read_image(out / "sub" / "c_m.png").rgb
    original = read_image(source / "sub" / "c.png").rgb
    assert np.allclose(restored, np.clip(original + 0.1, 0, 1), atol=1 / 255)

    kinds = [e.kind for e in events]
    assert kinds.count(BatchEventKind.WRITTEN) == 4 and kinds.count(BatchEventKind.FAILED) == 1
    assert kinds.count(BatchEventKind.PROGRESS) == 4 * 6  # tile progress inside each file
    overall = [e.overall for e in events]
    assert overall == sorted(overall) and overall[-1] == 1.0
    progress = [e for e in events if e.kind is BatchEventKind.PROGRESS]
    assert progress[0].tile == 1 and progress[0].tiles == 6 and progress[0].overall == pytest.approx(1 / 30)

    journal = read_journal(journal_path(out))
    statuses = sorted((p.name, e["status"]) for p, e in journal.items())
    assert statuses == [
        ("a_m.png", "written"),
        ("b_m.png", "written"),
        ("broken_m.png", "failed"),
        ("c_m.png", "written"),
        ("d_m.png", "written"),
    ]


def test_a_rerun_skips_the_finished_files_and_retries_the_failed_one(tmp_path: Path) -> None:
    source = five_files_one_corrupt(tmp_path)
    out = tmp_path / "out"
    drain(run_batch(Brighten(), plan_batch(source, out, "m"), PLAN, journal=journal_path(out)))
    before = {name: (out / name).stat().st_mtime_ns for name in EXPECTED_OUTPUTS}

    events, report = drain(
        run_batch(Brighten(), plan_batch(source, out, "m"), PLAN, journal=journal_path(out))
    )
    assert started(events) == ["sub/broken.png"]
    assert len(report.skipped) == 4 and len(report.earlier) == 4 and len(report.failed) == 1
    assert {e.message for e in events if e.kind is BatchEventKind.SKIPPED} == {"done in an earlier run"}
    assert {name: (out / name).stat().st_mtime_ns for name in EXPECTED_OUTPUTS} == before


def test_existing_outputs_are_never_overwritten(tmp_path: Path) -> None:
    write_photo(tmp_path / "in" / "a.png", 1)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "a_m.png").write_bytes(b"the user's own file")
    events, report = drain(run_batch(Brighten(), plan_batch(tmp_path / "in", tmp_path / "out", "m"), PLAN))
    assert (tmp_path / "out" / "a_m.png").read_bytes() == b"the user's own file"
    assert report.skipped == ((tmp_path / "out" / "a_m.png").resolve(),) and not report.earlier
    assert [e.message for e in events] == ["output exists"]


def test_cancel_after_two_files_then_rerun_finishes_without_redoing_them(tmp_path: Path) -> None:
    source = five_files_one_corrupt(tmp_path)
    (source / "sub" / "broken.png").unlink()
    write_photo(source / "sub" / "e.png", 5)
    out = tmp_path / "out"
    token = CancelToken()
    batch = run_batch(Brighten(), plan_batch(source, out, "m"), PLAN, token, journal=journal_path(out))
    with pytest.raises(Cancelled):
        for event in batch:
            if event.kind is BatchEventKind.PROGRESS and event.index == 2 and event.tile == 3:
                token.cancel()  # halfway through the third file
    assert files_under(out) == {"a_m.png", "b_m.png", JOURNAL_NAME}  # no partial or temporary file
    first = {name: (out / name).read_bytes() for name in ("a_m.png", "b_m.png")}

    events, report = drain(
        run_batch(Brighten(), plan_batch(source, out, "m"), PLAN, journal=journal_path(out))
    )
    assert started(events) == ["sub/c.png", "sub/deep/d.tif", "sub/e.png"]
    assert len(report.written) == 3 and len(report.earlier) == 2 and not report.failed
    assert {name: (out / name).read_bytes() for name in first} == first
    assert files_under(out) == {
        "a_m.png",
        "b_m.png",
        "sub/c_m.png",
        "sub/deep/d_m.png",
        "sub/e_m.png",
        JOURNAL_NAME,
    }


def test_a_crash_mid_file_then_rerun_finishes_without_partial_files(tmp_path: Path) -> None:
    source = five_files_one_corrupt(tmp_path)
    out = tmp_path / "out"
    crashing = Brighten(fail_on_call=2 * 6 + 3)  # tile 3 of c.png (broken.png fails before the model)
    with pytest.raises(RuntimeError, match="simulated crash"):
        drain(run_batch(crashing, plan_batch(source, out, "m"), PLAN, journal=journal_path(out)))
    assert files_under(out) == {"a_m.png", "b_m.png", JOURNAL_NAME}
    assert len(journal_path(out).read_text().splitlines()) == 3  # a, b written; broken failed
    # A hard crash during a write would leave the writer's hidden temporary and a cut journal line.
    (out / "sub").mkdir()
    (out / "sub" / ".c_m.png.0123456789ab.tmp").write_bytes(b"half a png")
    with journal_path(out).open("a") as fp:
        fp.write('{"source": "sub/c.png", "tar')

    events, report = drain(
        run_batch(Brighten(), plan_batch(source, out, "m"), PLAN, journal=journal_path(out))
    )
    assert started(events) == ["sub/broken.png", "sub/c.png", "sub/deep/d.tif"]
    assert len(report.written) == 2 and len(report.earlier) == 2 and len(report.failed) == 1
    assert files_under(out) == EXPECTED_OUTPUTS | {JOURNAL_NAME}
    lines = journal_path(out).read_text().splitlines()
    assert lines[3] == '{"source": "sub/c.png", "tar'  # the cut line stays alone on its line
    assert sum(1 for p, e in read_journal(journal_path(out)).items() if e["status"] == "written") == 4
    assert all(json.loads(line)["model"] == "m" for line in lines[4:])


def test_sr_batch_carries_alpha_at_the_output_size(tmp_path: Path) -> None:
    write_photo(tmp_path / "in" / "a.png", 1, size=(20, 14), mode="RGBA")

    class Double(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.nn.functional.interpolate(x, scale_factor=2, mode="nearest")

    items = plan_batch(tmp_path / "in", tmp_path / "out", "x2")
    _, report = drain(run_batch(Double(), items, TilePlan(scale=2)))
    written = read_image(report.written[0])
    assert written.rgb.shape == (28, 40, 3) and written.alpha is not None and written.alpha.shape == (28, 40)


def test_run_batch_request_plans_and_journals_in_the_output_folder(tmp_path: Path) -> None:
    source = five_files_one_corrupt(tmp_path)
    request = BatchRequest(source, tmp_path / "out", "m", recursive=False)
    _, report = drain(run_batch_request(request, Brighten(), PLAN))
    assert len(report.written) == 2 and journal_path(tmp_path / "out").is_file()


# ----------------------------------------------------------------------------- command line


def test_cli_restores_a_folder_into_a_mirrored_tree_and_reports_the_corrupt_file(
    tmp_path: Path, capsys
) -> None:
    source = five_files_one_corrupt(tmp_path)
    out = tmp_path / "out"
    assert main(["restore", str(source), "-m", "identity", "--out", str(out), "--recursive"]) == 1
    err = capsys.readouterr().err
    assert "broken.png" in err and "Traceback" not in err and "4 written, 0 skipped, 1 failed" in err
    outputs = {name.replace("_m.png", "_identity.png") for name in EXPECTED_OUTPUTS}
    assert files_under(out) == outputs | {JOURNAL_NAME}
    assert np.array_equal(read_image(out / "a_identity.png").rgb, read_image(source / "a.png").rgb)

    assert main(["restore", str(source), "-m", "identity", "--out", str(out), "-r"]) == 1
    assert "0 written, 4 skipped (4 done earlier), 1 failed" in capsys.readouterr().err


def test_cli_folder_defaults_to_a_sibling_folder_and_is_not_recursive(tmp_path: Path, capsys) -> None:
    source = five_files_one_corrupt(tmp_path)
    assert main(["restore", str(source), "-m", "identity"]) == 0
    assert files_under(tmp_path / "in_identity") == {"a_identity.png", "b_identity.png", JOURNAL_NAME}
    assert "2 written" in capsys.readouterr().err
