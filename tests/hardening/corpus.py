"""The bad-input corpus: odd and broken image files, generated on demand (nothing is stored).

Each ``Case`` writes its file into a folder and says what must happen when it is opened:
``error`` is None for files that must load (then ``check`` verifies the loaded pixels), else a
fragment of the error message (the message always names the file as well). docs/HARDENING.md lists
the same cases with their outcomes; the command line (test_cli_corpus.py) and the app
(test_gui_corpus.py) are both run over them.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tifffile
from PIL import Image, ImageCms

from irstudio.core.image_io import LoadedImage, read_image

# ---------------------------------------------------------------------------------------------- makers


def gradient_rgb(height: int = 24, width: int = 32) -> np.ndarray:
    """uint8 (H, W, 3): distinct values everywhere, so any flip, swap or shift shows."""
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([x * 7 % 256, y * 11 % 256, (x * 3 + y * 5) % 256], axis=-1).astype(np.uint8)


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header announces ``width`` x ``height`` RGB pixels but holds one short row."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" + b"\x00" * 30)
    return (
        b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")
    )


def png_bytes(image: Image.Image, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", **options)
    return buffer.getvalue()


def jpeg_bytes(image: Image.Image, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=95, **options)
    return buffer.getvalue()


# ---------------------------------------------------------------------------------------------- cases


@dataclass(frozen=True)
class Case:
    """One corpus file: ``name`` (file name, may hold unicode and spaces, and a sub-folder),
    ``make`` (returns the bytes), ``error`` (message fragment, None when it must load), ``check``
    (verifies a correct load: the ``LoadedImage`` and the file's own folder)."""

    id: str
    name: str
    make: Callable[[], bytes]
    error: str | None = None
    check: Callable[[LoadedImage], None] | None = None
    outcome: str = ""

    def write(self, folder: Path) -> Path:
        path = folder / self.name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.make())
        return path


def _truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]


def _check_16bit(loaded: LoadedImage) -> None:
    expected = gradient_rgb().astype(np.float32) * 257 / 65535
    assert loaded.info.bit_depth == 16
    np.testing.assert_allclose(loaded.rgb, expected, atol=1e-6)


def _sixteen_bit_png() -> bytes:
    import cv2

    pixels = gradient_rgb().astype(np.uint16) * 257
    ok, encoded = cv2.imencode(".png", pixels[..., ::-1])
    assert ok
    return encoded.tobytes()


CMYK_COLOURS = ((200, 30, 40), (20, 180, 60), (30, 40, 220), (240, 240, 240))


def _cmyk_jpeg() -> bytes:
    blocks = np.concatenate([np.full((16, 16, 3), colour, np.uint8) for colour in CMYK_COLOURS], axis=1)
    return jpeg_bytes(Image.fromarray(blocks).convert("CMYK"))


def _check_cmyk(loaded: LoadedImage) -> None:
    assert loaded.info.mode == "CMYK" and loaded.rgb.shape == (16, 64, 3)
    for index, colour in enumerate(CMYK_COLOURS):
        centre = loaded.rgb[8, index * 16 + 8] * 255
        assert np.abs(centre - np.array(colour)).max() <= 6, (centre, colour)


def _palette_png() -> bytes:
    palette_image = Image.new("P", (20, 10), 0)
    palette_image.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * (256 * 3 - 9))
    pixels = np.zeros((10, 20), np.uint8)
    pixels[:, 10:] = 1
    pixels[5:, :] = 2
    palette_image.putdata(pixels.ravel().tolist())
    return png_bytes(palette_image, transparency=1)  # index 1 (green) is transparent


def _check_palette(loaded: LoadedImage) -> None:
    assert loaded.alpha is not None
    assert loaded.alpha[0, 0] == 1.0 and loaded.alpha[0, 15] == 0.0 and loaded.alpha[7, 15] == 1.0
    np.testing.assert_array_equal(loaded.rgb[0, 0], [1.0, 0.0, 0.0])
    np.testing.assert_array_equal(loaded.rgb[7, 3], [0.0, 0.0, 1.0])


def _rotated_jpeg() -> bytes:
    """A 32x24 (W x H) image stored sideways: EXIF orientation 6 turns it upright to 24x32 with the
    bright block in the top-left corner."""
    upright = np.zeros((32, 24, 3), np.uint8)
    upright[:8, :8] = 255
    stored = np.rot90(upright, k=1)  # orientation 6 = rotate the stored pixels 90° clockwise to show
    exif = Image.Exif()
    exif[0x0112] = 6
    return jpeg_bytes(Image.fromarray(np.ascontiguousarray(stored)), exif=exif.tobytes())


def _check_rotated(loaded: LoadedImage) -> None:
    assert loaded.rgb.shape == (32, 24, 3) and loaded.info.orientation == 6
    assert loaded.rgb[2, 2].min() > 0.9 and loaded.rgb[2, 21].max() < 0.1 and loaded.rgb[29, 2].max() < 0.1


def _grey_alpha_png() -> bytes:
    grey = gradient_rgb()[..., 0]
    alpha = gradient_rgb()[..., 1]
    return png_bytes(Image.fromarray(np.dstack([grey, alpha]), "LA"))


def _check_grey_alpha(loaded: LoadedImage) -> None:
    grey = gradient_rgb()[..., 0] / 255
    assert loaded.alpha is not None
    np.testing.assert_allclose(loaded.alpha, gradient_rgb()[..., 1] / 255, atol=1e-6)
    for channel in range(3):
        np.testing.assert_allclose(loaded.rgb[..., channel], grey, atol=1e-6)


def _check_gradient(loaded: LoadedImage) -> None:
    np.testing.assert_allclose(loaded.rgb * 255, gradient_rgb(), atol=1e-4)


def _check_16bit_gradient(loaded: LoadedImage) -> None:
    assert loaded.info.bit_depth == 16
    np.testing.assert_allclose(loaded.rgb * 255, gradient_rgb(), atol=1e-3)


def _valid_png() -> bytes:
    return png_bytes(Image.fromarray(gradient_rgb()))


def _valid_jpeg() -> bytes:
    return jpeg_bytes(Image.fromarray(gradient_rgb()))


def tiff_bytes(data: np.ndarray, **options: object) -> bytes:
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, data, **options)
    return buffer.getvalue()


def _planar_tiff() -> bytes:
    deep = gradient_rgb().astype(np.uint16) * 257
    return tiff_bytes(np.moveaxis(deep, -1, 0), photometric="rgb", planarconfig="separate", compression="lzw")


def _premultiplied_tiff() -> bytes:
    alpha = np.full((24, 32, 1), 32768, np.uint16)
    premultiplied = np.rint(gradient_rgb() * (257 * 32768 / 65535)).astype(np.uint16)
    return tiff_bytes(np.dstack([premultiplied, alpha]), photometric="rgb", extrasamples=["assocalpha"])


def _check_straight_alpha(loaded: LoadedImage) -> None:
    np.testing.assert_allclose(loaded.rgb * 255, gradient_rgb(), atol=0.02)
    assert loaded.alpha is not None
    np.testing.assert_allclose(loaded.alpha, 32768 / 65535)


def _u32_grey_tiff() -> bytes:
    return tiff_bytes(np.full((8, 8), 3 * 2**30, np.uint32), photometric="minisblack")


def _check_u32_grey(loaded: LoadedImage) -> None:
    np.testing.assert_allclose(loaded.rgb, 0.75, atol=1 / 65535)  # also once written at 16 bits


def _long_orientation_tiff() -> bytes:
    return tiff_bytes(gradient_rgb(), photometric="rgb", extratags=[(274, "I", 1, 6, True)])


def _check_rotated_once(loaded: LoadedImage) -> None:
    np.testing.assert_array_equal(np.rint(loaded.rgb * 255), np.rot90(gradient_rgb(), -1))


def _cielab_tiff() -> bytes:
    return tiff_bytes(gradient_rgb(), photometric="cielab")


def _png_with_trailing_data() -> bytes:
    return _valid_png() + b"\x00 appended by a careless uploader " * 5000


def _png_with_big_icc() -> bytes:
    profile = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()) + bytes(2_000_000)
    profile[:4] = struct.pack(">I", len(profile))
    chunk = png_chunk(b"iCCP", b"printer\x00\x00" + zlib.compress(bytes(profile)))
    png = _valid_png()
    return png[:33] + chunk + png[33:]


CASES: tuple[Case, ...] = (
    Case("zero-byte", "empty.png", lambda: b"", error="empty", outcome="refused: the file is empty"),
    Case(
        "truncated-png",
        "cut.png",
        lambda: _truncated(_valid_png()),
        error="damaged or truncated",
        outcome="refused: truncated/damaged",
    ),
    Case(
        "truncated-jpeg",
        "cut.jpg",
        lambda: _truncated(_valid_jpeg()),
        error="damaged or truncated",
        outcome="refused: truncated/damaged",
    ),
    Case(
        "text-as-png",
        "notes.png",
        lambda: b"this is a shopping list, not a picture\n" * 20,
        error="not a PNG, JPEG, TIFF, BMP or WebP image",
        outcome="refused: not an image",
    ),
    Case(
        "huge-header",
        "bomb.png",
        lambda: png_claiming(100_000, 100_000),
        error="100000x100000",
        outcome="refused before decoding: too many pixels",
    ),
    Case(
        "16-bit-png",
        "deep.png",
        _sixteen_bit_png,
        check=_check_16bit,
        outcome="loads with full 16-bit precision; output is a 16-bit PNG",
    ),
    Case(
        "cmyk-jpeg",
        "print.jpg",
        _cmyk_jpeg,
        check=_check_cmyk,
        outcome="loads as RGB (plain inversion, no colour management)",
    ),
    Case(
        "palette-transparency",
        "icon.png",
        _palette_png,
        check=_check_palette,
        outcome="loads as RGB + alpha from the transparent index; output keeps the alpha",
    ),
    Case(
        "exif-rotated-jpeg",
        "phone.jpg",
        _rotated_jpeg,
        check=_check_rotated,
        outcome="loads upright (orientation 6 applied); output upright, orientation reset to 1",
    ),
    Case(
        "grey-alpha",
        "grey alpha.png",
        _grey_alpha_png,
        check=_check_grey_alpha,
        outcome="loads as equal R=G=B + alpha; output keeps the alpha",
    ),
    Case(
        "planar-16-bit-tiff",
        "scan planar.tif",
        _planar_tiff,
        check=_check_16bit_gradient,
        outcome="loads (planar LZW samples read as pixels, 16-bit kept); output is a 16-bit PNG",
    ),
    Case(
        "premultiplied-tiff",
        "premultiplied.tif",
        _premultiplied_tiff,
        check=_check_straight_alpha,
        outcome="loads with the colours divided by alpha (straight alpha); output keeps the alpha",
    ),
    Case(
        "u32-grey-tiff",
        "grey32.tif",
        _u32_grey_tiff,
        check=_check_u32_grey,
        outcome="loads; unsigned 32-bit values above 2^31 stay bright",
    ),
    Case(
        "long-orientation-tiff",
        "rotated long.tif",
        _long_orientation_tiff,
        check=_check_rotated_once,
        outcome="loads upright: an Orientation tag stored as LONG is applied once",
    ),
    Case(
        "cielab-tiff",
        "lab.tif",
        _cielab_tiff,
        error="unsupported TIFF layout (photometric CIELAB)",
        outcome="refused: unsupported TIFF layout (named), not 'damaged'",
    ),
    Case(
        "png-trailing-data",
        "upload.png",
        _png_with_trailing_data,
        check=_check_gradient,
        outcome="loads: bytes after IEND are allowed",
    ),
    Case(
        "png-big-icc",
        "printer profile.png",
        _png_with_big_icc,
        check=_check_gradient,
        outcome="loads with its 2 MB ICC profile, which the output carries",
    ),
    Case(
        "unicode-spaces",
        "Fotos 写真 ü/mein Bild é 1.png",
        _valid_png,
        check=_check_gradient,
        outcome="loads; output written beside it under a unicode name",
    ),
)

BAD_CASES = tuple(case for case in CASES if case.error is not None)
GOOD_CASES = tuple(case for case in CASES if case.error is None)


def check_loads(case: Case, path: Path) -> LoadedImage:
    """Read ``path`` and run the case's pixel check; return the loaded image."""
    loaded = read_image(path)
    assert case.check is not None
    case.check(loaded)
    return loaded


def listing(folder: Path) -> list[str]:
    """Every file and folder under ``folder``, hidden ones included, as sorted relative paths."""
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))
