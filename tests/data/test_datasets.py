"""Folder datasets: bad files reported, reproducible draws, sharding, fixed validation crops, pairs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from irstudio.data import (
    CleanSource,
    DatasetError,
    Degradation,
    DrawSampler,
    ImageStore,
    Noise,
    PairedSource,
    TrainPatches,
    list_images,
    match_pairs,
    preview_pairs,
    split_train_val,
    validation_crops,
)


def _save(path: Path, height: int, width: int, seed: int) -> np.ndarray:
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
    return pixels


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "clean"
    for index in range(5):
        _save(root / f"photo_{index}.png", 40, 52, index)
    _save(root / "sub" / "deep.png", 48, 48, 9)
    _save(root / "tiny.png", 10, 12, 10)
    (root / "broken.png").write_bytes(b"\x89PNG not really")
    (root / ".hidden" / "x.png").parent.mkdir()
    _save(root / ".hidden" / "x.png", 40, 40, 11)
    (root / "notes.txt").write_text("not an image")
    return root


def test_list_images_is_recursive_sorted_and_skips_hidden(folder: Path) -> None:
    names = [p.relative_to(folder).as_posix() for p in list_images(folder)]
    assert names == ["broken.png", *[f"photo_{i}.png" for i in range(5)], "sub/deep.png", "tiny.png"]
    with pytest.raises(DatasetError, match="no such folder"):
        list_images(folder / "missing")


@pytest.mark.parametrize("budget", [1 << 30, 0], ids=["in_ram", "from_disk"])
def test_store_reports_bad_and_small_files_and_serves_uint8(folder: Path, budget: int) -> None:
    store = ImageStore(list_images(folder), ram_budget=budget, min_size=(32, 32))
    assert store.in_ram == (budget > 0)
    assert len(store) == 6
    reasons = {s.path.name: s.reason for s in store.skipped}
    assert set(reasons) == {"broken.png", "tiny.png"}
    assert (
        reasons["broken.png"].startswith("unreadable")
        and "smaller than the 32x32 patch" in reasons["tiny.png"]
    )
    first = store.image(0)
    assert first.dtype == np.uint8 and first.shape == (40, 52, 3) and store.shape(0) == (40, 52)
    assert np.array_equal(first, np.asarray(Image.open(folder / "photo_0.png")))


def test_draws_are_reproducible_independent_of_order_and_sized_for_sr(folder: Path) -> None:
    store = ImageStore(list_images(folder), ram_budget=1 << 30, min_size=(32, 32))
    source = CleanSource(store, Degradation.for_task("sr", 2))
    patches = TrainPatches(source, patch=16, seed=3)
    later = [patches[k] for k in (9, 2, 7)]
    fresh = TrainPatches(source, patch=16, seed=3)
    earlier = [fresh[k] for k in (2, 7, 9)]
    for (lq_a, gt_a), (lq_b, gt_b) in zip([later[1], later[2], later[0]], earlier, strict=True):
        assert torch.equal(lq_a, lq_b) and torch.equal(gt_a, gt_b)
    lq, gt = patches[0]
    assert lq.shape == (3, 16, 16) and gt.shape == (3, 32, 32) and lq.dtype == torch.float32
    assert not torch.equal(patches[0][1], TrainPatches(source, patch=16, seed=4)[0][1])


def test_each_epoch_visits_every_image_once(folder: Path) -> None:
    store = ImageStore(list_images(folder), ram_budget=1 << 30, min_size=(32, 32))
    patches = TrainPatches(CleanSource(store, Degradation()), patch=16, seed=0)
    n = len(patches)
    first, second = (
        [patches.image_for_draw(k) for k in range(n)],
        [patches.image_for_draw(k) for k in range(n, 2 * n)],
    )
    assert sorted(first) == sorted(second) == list(range(n)) and first != second


def test_augmentation_covers_flips_and_rotations(tmp_path: Path) -> None:
    pixels = _save(tmp_path / "one" / "a.png", 16, 16, 0)
    store = ImageStore(list_images(tmp_path / "one"), ram_budget=1 << 20)
    patches = TrainPatches(CleanSource(store, Degradation()), patch=16, seed=0)
    seen = {patches[k][1].numpy().tobytes() for k in range(80)}
    variants = {
        np.ascontiguousarray(np.rot90(v, r)).astype(np.float32).transpose(2, 0, 1).tobytes()
        for v in (pixels / 255.0, pixels[:, ::-1] / 255.0)
        for r in range(4)
    }
    assert seen == variants  # all 8 dihedral transforms, nothing else
    plain = TrainPatches(CleanSource(store, Degradation()), patch=16, seed=0, augment=False)
    assert {plain[k][1].numpy().tobytes() for k in range(10)} == {
        (pixels / 255.0).astype(np.float32).transpose(2, 0, 1).tobytes()
    }


def test_sampler_shards_global_batches_and_resumes_mid_run() -> None:
    ranks = [list(DrawSampler(first_draw=0, steps=3, batch_size=2, world_size=2, rank=r)) for r in (0, 1)]
    assert ranks == [[0, 1, 4, 5, 8, 9], [2, 3, 6, 7, 10, 11]]
    whole = list(DrawSampler(first_draw=0, steps=5, batch_size=3))
    assert list(DrawSampler(first_draw=6, steps=3, batch_size=3)) == whole[6:]
    with pytest.raises(ValueError, match="rank 2"):
        DrawSampler(first_draw=0, steps=1, batch_size=1, world_size=2, rank=2)


def test_split_is_fixed_disjoint_and_keeps_training_images() -> None:
    train, val = split_train_val(20, val_fraction=0.1, val_max=16, seed=0)
    assert len(val) == 2 and not set(train) & set(val) and sorted(train + val) == list(range(20))
    assert split_train_val(20, val_fraction=0.1, val_max=16, seed=0) == (train, val)
    assert split_train_val(3, val_fraction=0.01, val_max=16, seed=0)[1] != []  # at least one
    assert split_train_val(1, val_fraction=0.5, val_max=16, seed=0) == ([0], [])
    assert len(split_train_val(100, val_fraction=0.5, val_max=4, seed=0)[1]) == 4


def test_validation_crops_are_fixed_centre_crops(folder: Path) -> None:
    store = ImageStore(list_images(folder), ram_budget=0, min_size=(16, 16))
    source = CleanSource(store, Degradation((Noise(sigma=(5.0, 40.0)),)))
    a = validation_crops(source, patch=32, seed=1)
    b = validation_crops(source, patch=32, seed=1)
    assert len(a) == 6 and a.names == b.names  # broken.png and the 10x12 tiny.png are skipped
    assert all(np.array_equal(x, y) for x, y in zip(a.inputs, b.inputs, strict=True))
    assert a.targets[0].shape == (32, 32, 3)
    clean = np.asarray(Image.open(folder / "photo_0.png")).astype(np.float32) / 255
    assert np.array_equal(a.targets[a.names.index("photo_0.png")], clean[4:36, 10:42])


def test_pairs_match_by_name_and_crops_stay_aligned(tmp_path: Path) -> None:
    (tmp_path / "gt").mkdir()
    for index in range(3):  # targets: each input pixel repeated 2x2, so target[::2, ::2] == input
        small = _save(tmp_path / "in" / f"p{index}.png", 20, 24, index)
        Image.fromarray(small.repeat(2, axis=0).repeat(2, axis=1)).save(tmp_path / "gt" / f"p{index}.png")
    _save(tmp_path / "in" / "lonely.png", 20, 24, 7)
    _save(tmp_path / "in" / "wrong.png", 20, 24, 8)
    _save(tmp_path / "gt" / "wrong.png", 30, 30, 8)
    pairs, unmatched = match_pairs(tmp_path / "in", tmp_path / "gt")
    assert [a.name for a, _ in pairs] == ["p0.png", "p1.png", "p2.png", "wrong.png"]
    assert [s.path.name for s in unmatched] == ["lonely.png"]
    source = PairedSource(pairs, scale=2, ram_budget=1 << 20, min_patch=8)
    assert len(source) == 3 and "is not x2 of the input" in source.skipped[0].reason
    patches = TrainPatches(source, patch=8, seed=0)
    for draw in range(12):
        lq, gt = patches[draw]
        assert lq.shape == (3, 8, 8) and gt.shape == (3, 16, 16)
        assert torch.equal(gt[:, ::2, ::2], lq)


def test_preview_pairs_come_from_the_folder(folder: Path) -> None:
    pairs = preview_pairs(folder, Degradation.for_task("sr", 2), patch=12, count=3)
    assert len(pairs) == 3 and all(lq.shape == (12, 12, 3) and gt.shape == (24, 24, 3) for lq, gt in pairs)
