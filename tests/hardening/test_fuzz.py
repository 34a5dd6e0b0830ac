"""Hypothesis fuzzing: image loading and training-config parsing raise only their documented errors.

Image loading (``read_image``, ``probe_image``): random bytes (bare, or behind each format's magic
number), valid PNG/JPEG files with mutated bytes, and PNGs whose IHDR fields are rewritten with a
correct CRC (so the parser believes them). Each either loads under the documented contract
(float32 (H, W, 3) in [0, 1], alpha (H, W) or None) or raises ``ImageError``. The pixel limit is
lowered to 2**20 so that a mutated header cannot make a run allocate gigabytes; the limit check
itself is the same code at any size.

Training config (``config_from_dict``, ``parse_toml``, ``config_from_json``): random TOML-ish
dicts, valid configs with random edits, and TOML text with random edits. Each either gives a
``TrainConfig`` that survives a TOML and a JSON round trip, or raises ``ConfigError``.
"""

from __future__ import annotations

import dataclasses
import datetime
import io
import json
import struct
import tempfile
import typing
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from PIL import Image

from irstudio.core.image_io import ImageError, probe_image, read_image
from irstudio.training.config import ConfigError, TrainConfig
from irstudio.training.config_io import (
    config_from_dict,
    config_from_json,
    config_to_dict,
    config_to_json,
    config_to_toml,
    parse_toml,
)

FUZZ_MAX_PIXELS = 1 << 20
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ---------------------------------------------------------------------------------------------- images

MAGIC = (
    b"",
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff",
    b"\xff\xd8\xff\xe1",
    b"II*\x00",
    b"MM\x00*",
    b"BM",
    b"RIFF\x00\x00\x00\x00WEBPVP8X",
)


def _encoded(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _seed_files() -> dict[str, bytes]:
    rng = np.random.default_rng(7)
    rgb = Image.fromarray(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8))
    exif = Image.Exif()
    exif[0x0112] = 6
    grey16 = Image.fromarray(rng.integers(0, 65536, (8, 8), dtype=np.uint16))
    return {
        "png": _encoded(rgb, "PNG"),
        "png-rgba": _encoded(rgb.convert("RGBA"), "PNG"),
        "png-palette": _encoded(rgb.convert("P"), "PNG", transparency=3),
        "png-grey16": _encoded(grey16, "PNG"),
        "jpeg": _encoded(rgb, "JPEG", quality=90),
        "jpeg-exif": _encoded(rgb, "JPEG", quality=90, exif=exif.tobytes()),
        "jpeg-progressive": _encoded(rgb, "JPEG", quality=90, progressive=True),
        "jpeg-cmyk": _encoded(rgb.convert("CMYK"), "JPEG", quality=90),
    }


SEEDS = _seed_files()


def _check_loads_or_refuses(data: bytes, suffix: str = ".png") -> None:
    """Write ``data`` and read it: a valid result or an ``ImageError``, nothing else."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"fuzz{suffix}"
        path.write_bytes(data)
        try:
            info = probe_image(path, max_pixels=FUZZ_MAX_PIXELS)
        except ImageError as error:
            assert str(path) in str(error)
        else:
            assert info.width >= 1 and info.height >= 1
        try:
            loaded = read_image(path, max_pixels=FUZZ_MAX_PIXELS)
        except ImageError as error:
            assert str(path) in str(error)
            event(f"refused: {type(error).__name__}")
            return
    event("loaded")
    rgb, alpha = loaded.rgb, loaded.alpha
    assert rgb.dtype == np.float32 and rgb.ndim == 3 and rgb.shape[2] == 3 and rgb.flags.c_contiguous
    assert rgb.shape[:2] == (loaded.info.height, loaded.info.width)
    assert np.isfinite(rgb).all() and rgb.min() >= 0.0 and rgb.max() <= 1.0
    if alpha is not None:
        assert alpha.dtype == np.float32 and alpha.shape == rgb.shape[:2]
        assert alpha.min() >= 0.0 and alpha.max() <= 1.0


@FUZZ
@given(magic=st.sampled_from(MAGIC), tail=st.binary(max_size=2048))
def test_random_bytes_load_or_raise_image_error(magic: bytes, tail: bytes) -> None:
    _check_loads_or_refuses(magic + tail)


@st.composite
def _mutated(draw: st.DrawFn) -> tuple[str, bytes]:
    """A seed file with 1-8 edits (byte overwrite, insertion, deletion) mostly in its first 256
    bytes (the headers), sometimes anywhere, sometimes truncated."""
    name = draw(st.sampled_from(sorted(SEEDS)))
    data = bytearray(SEEDS[name])
    for _ in range(draw(st.integers(1, 8))):
        limit = len(data) if draw(st.booleans()) else min(len(data), 256)
        position = draw(st.integers(0, max(0, limit - 1)))
        operation = draw(st.sampled_from(("set", "insert", "delete")))
        if operation == "set" and data:
            data[position] = draw(st.integers(0, 255))
        elif operation == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=8))
        elif data:
            del data[position : position + draw(st.integers(1, 8))]
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return name, bytes(data)


@FUZZ
@given(case=_mutated())
def test_mutated_png_and_jpeg_load_or_raise_image_error(case: tuple[str, bytes]) -> None:
    name, data = case
    _check_loads_or_refuses(data, ".jpg" if name.startswith("jpeg") else ".png")


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


@FUZZ
@given(
    width=st.integers(0, 70_000),
    height=st.integers(0, 70_000),
    depth=st.sampled_from((0, 1, 2, 4, 8, 16, 3, 32, 255)),
    colour=st.sampled_from((0, 2, 3, 4, 6, 1, 5, 7, 255)),
    methods=st.tuples(st.integers(0, 2), st.integers(0, 2), st.integers(0, 2)),
    seed=st.sampled_from(("png", "png-rgba", "png-palette", "png-grey16")),
)
def test_png_with_rewritten_ihdr_loads_or_raises_image_error(
    width: int, height: int, depth: int, colour: int, methods: tuple[int, int, int], seed: str
) -> None:
    """IHDR rewritten with a correct CRC: the parser trusts it, the data no longer matches."""
    original = SEEDS[seed]
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, *methods)
    _check_loads_or_refuses(original[:8] + _png_chunk(b"IHDR", ihdr) + original[33:])


# ---------------------------------------------------------------------------------------------- config


def _section_fields(cls: type, seen: dict[str, set[str]], name: str = "") -> None:
    """Field names of ``cls`` and of every nested config dataclass, by section name."""
    hints = typing.get_type_hints(cls)
    seen.setdefault(name, set()).update(field.name for field in dataclasses.fields(cls))
    for field in dataclasses.fields(cls):
        for candidate in (hints[field.name], *typing.get_args(hints[field.name])):
            if dataclasses.is_dataclass(candidate) and candidate.__module__.startswith("irstudio.training"):
                _section_fields(candidate, seen, field.name)


SECTIONS: dict[str, set[str]] = {}
_section_fields(TrainConfig, SECTIONS)
DEGRADATION_KEYS = ("steps", "kind", "scale", "sigma", "quality", "probability", "clip", "length", "angle")
KEYS = sorted({key for keys in SECTIONS.values() for key in keys} | set(SECTIONS) | set(DEGRADATION_KEYS))
WORDS = (
    "denoise",
    "sr",
    "jpeg",
    "derain",
    "compacter-x1",
    "asid-x4",
    "cpu",
    "auto",
    "bf16",
    "l1_fft",
    "noise",
)

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.integers(-3, 70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from(WORDS)
    | st.datetimes(min_value=datetime.datetime(1900, 1, 1))
    | st.dates()
)
KEY = st.sampled_from(KEYS) | st.text(max_size=8)
TOMLISH = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(KEY, children, max_size=5),
    max_leaves=24,
)

VALID = {
    "name": "fuzz-run",
    "model": {"id": "compacter-x1", "task": "denoise"},
    "data": {"clean": "images", "patch": 32, "batch_size": 2},
    "degradation": {"steps": [{"kind": "downscale", "scale": 2}]},
    "optim": {"lr": 1e-3},
    "train": {"steps": 100, "progressive": [{"step": 50, "patch": 48, "batch_size": 1}]},
}


def _accepts_or_refuses(parse: typing.Callable[[], TrainConfig]) -> None:
    """``parse()`` gives a config that round-trips through TOML and JSON, or raises ConfigError."""
    try:
        config = parse()
    except ConfigError:
        event("refused")
        return
    event("accepted")
    assert isinstance(config, TrainConfig)
    assert parse_toml(config_to_toml(config)) == config
    assert config_from_json(config_to_json(config)) == config


def test_the_valid_seed_config_is_accepted() -> None:
    config = config_from_dict(VALID)
    assert config.name == "fuzz-run" and config.patch_at(60) == (48, 1)


@FUZZ
@given(data=st.dictionaries(KEY, TOMLISH, max_size=8))
def test_random_dicts_give_a_config_or_config_error(data: dict[str, object]) -> None:
    _accepts_or_refuses(lambda: config_from_dict(data))


@st.composite
def _edited_config(draw: st.DrawFn) -> dict[str, object]:
    """The valid config (with every default written out) with 1-4 random edits: a value replaced
    or added at a known or random key, a key deleted, or a section replaced."""
    document = json.loads(json.dumps(config_to_dict(config_from_dict(VALID)), default=str))
    for _ in range(draw(st.integers(1, 4))):
        section_name = draw(st.sampled_from(sorted(SECTIONS)))
        target = document if not section_name else document.setdefault(section_name, {})
        if not isinstance(target, dict):
            target = document
        key = draw(st.sampled_from(sorted(SECTIONS[section_name])) | KEY)
        action = draw(st.sampled_from(("replace", "replace", "delete", "section")))
        if action == "delete":
            target.pop(key, None)
        elif action == "section" and section_name:
            document[section_name] = draw(TOMLISH)
        else:
            target[key] = draw(TOMLISH)
    return document


@FUZZ
@given(document=_edited_config(), with_base=st.booleans())
def test_edited_configs_give_a_config_or_config_error(document: dict[str, object], with_base: bool) -> None:
    base = Path(tempfile.gettempdir()) if with_base else None
    _accepts_or_refuses(lambda: config_from_dict(document, base_dir=base))


VALID_TOML = config_to_toml(config_from_dict(VALID))


@FUZZ
@given(
    edits=st.lists(
        st.tuples(st.integers(0, len(VALID_TOML)), st.integers(0, 6), st.text(max_size=6)),
        min_size=1,
        max_size=6,
    )
)
def test_edited_toml_text_gives_a_config_or_config_error(edits: list[tuple[int, int, str]]) -> None:
    text = VALID_TOML
    for position, removed, inserted in edits:
        text = text[:position] + inserted + text[position + removed :]
    _accepts_or_refuses(lambda: parse_toml(text))
    _accepts_or_refuses(lambda: config_from_json(text))


@pytest.mark.parametrize("text", ["", "[", "name = ", "\x00", "name = 'x'\nname = 'y'", "[model]\nid = 3"])
def test_hand_picked_bad_toml_raises_config_error(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_toml(text)
