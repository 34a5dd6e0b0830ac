"""Read and write photos faithfully: float32 RGB in [0, 1] plus a record of what the file held.

Reading (``read_image``)
    PNG, JPEG, TIFF, BMP and WebP, identified by their content (not the suffix). The result is
    ``LoadedImage(rgb, alpha, info)``: ``rgb`` is float32, shape (H, W, 3), C-contiguous, values in
    [0, 1], already turned upright by the EXIF orientation (all eight values); ``alpha`` is float32
    (H, W) in [0, 1] or None; ``info`` (``ImageInfo``) records format, size after orientation, bit
    depth, Pillow mode, ICC profile, EXIF bytes and orientation. Grey, grey+alpha, palette (with its
    transparency), CMYK (plain inversion, no colour management) and 16-bit files all become RGB;
    16-bit samples keep full precision (value / 65535). Multi-frame files give their first frame.
    ``read_image(path, native=True)`` keeps 8- and 16-bit samples as uint8 / uint16 RGB instead
    (a quarter / half of the memory), for callers that convert per tile (the tiled runner).

    TIFF is parsed and decoded by tifffile (``tiff``): planar or chunky samples, unsigned, signed or
    float, 1 to 64 bits, grey, RGB, palette, CMYK and JPEG YCbCr, associated alpha turned straight,
    the first page of a multi-page file; other layouts raise ``unsupported TIFF layout (...)``.
    For the other formats Pillow parses the header and the metadata and decodes the pixels, except
    for 16-bit PNGs with colour or alpha, which Pillow truncates to 8 bits: those are decoded by
    OpenCV (IMREAD_UNCHANGED, BGR(A) turned into RGB(A)) from the file's pixel chunks only, so
    libpng has no ancillary chunk to print warnings about (``png``). A PNG is complete when its
    chain of chunks reaches IEND; bytes after IEND are allowed. Either way the pixels are decoded
    once, and the decoder's memory is released before the float32 copy is made. The orientation is
    applied here, once, as a view folded into that copy.

Safety
    Empty, truncated, damaged and non-image files raise ``UnreadableImageError``. The pixel count is
    checked from the header, before any pixel is decoded, against ``max_pixels`` (``ImageTooLargeError``).
    Pillow's own decompression-bomb limit (``PIL.Image.MAX_IMAGE_PIXELS``) is not the one that applies:
    the files are parsed with the format plugins directly (which skip Pillow's check), and where Pillow
    checks again (WebP parsing, decoding) the global limit is raised, only when
    needed, to the size already approved here, under a lock, and put back right after. (A caller
    that sets Pillow's global ``ImageFile.LOAD_TRUNCATED_IMAGES`` makes Pillow accept truncated
    JPEG/TIFF/BMP/WebP data; truncated PNGs are still refused by the IEND check.)

Writing (``write_image``)
    PNG and TIFF (8 or 16 bit, with alpha), JPEG (8 bit, alpha dropped) and WebP (8 bit, with alpha).
    The file is written (through ``core.atomic.atomic_write``) to a hidden temporary file in the
    destination folder, flushed to disk, then published: without ``overwrite`` by a hard link that
    fails if the name exists (never clobbers a file that appeared meanwhile), with ``overwrite`` by
    ``os.replace``. The temporary file is removed on every failure. EXIF from ``source`` is carried
    with its orientation reset to 1 (the pixels are already upright) and its pixel-dimension tags
    updated; the ICC profile is carried when it describes RGB data (a grey or CMYK profile would not
    match the RGB pixels written); a PNG's gAMA, cHRM and sRGB chunks are carried to a PNG output.

Rounding
    Float to integer: clip to [0, 1], multiply by 255 (or 65535) in the input's float precision, round
    half up (``floor(v + 0.5)``, computed exactly). This is the papers' ``(x * 255).round()`` except on
    exact .5 ties, where NumPy/PyTorch round half to even.

Modules
    ``info`` (errors, ``ImageInfo``, ``LoadedImage``, limits and suffixes), ``header`` (format
    sniffing, header parsing, the pixel limit), ``tiff`` (TIFF through tifffile), ``png`` (the
    chunk chain), ``metadata`` (EXIF and ICC, both ways), ``reading``
    (``probe_image``, ``read_image``: decoding and orientation), ``samples`` (``to_uint8``,
    ``to_depth``, ``resize_alpha``), ``encoders`` (PNG, TIFF, JPEG, WebP) and ``writing``
    (``write_image``, ``output_bit_depth``). Import
    the public names from this package.
"""

from __future__ import annotations

from irstudio.core.image_io.info import (
    DEFAULT_MAX_PIXELS,
    READ_SUFFIXES,
    WRITE_SUFFIXES,
    ImageError,
    ImageInfo,
    ImageTooLargeError,
    ImageWriteError,
    LoadedImage,
    OutputExistsError,
    UnreadableImageError,
)
from irstudio.core.image_io.reading import probe_image, read_image
from irstudio.core.image_io.samples import SAMPLE_MAX, resize_alpha, sample_type, to_depth, to_uint8
from irstudio.core.image_io.writing import output_bit_depth, write_image

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "READ_SUFFIXES",
    "SAMPLE_MAX",
    "WRITE_SUFFIXES",
    "ImageError",
    "ImageInfo",
    "ImageTooLargeError",
    "ImageWriteError",
    "LoadedImage",
    "OutputExistsError",
    "UnreadableImageError",
    "output_bit_depth",
    "probe_image",
    "read_image",
    "resize_alpha",
    "sample_type",
    "to_depth",
    "to_uint8",
    "write_image",
]
