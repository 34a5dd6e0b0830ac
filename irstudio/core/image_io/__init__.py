"""Read and write photos faithfully: float32 RGB in [0, 1] plus a record of what the file held.

Reading (``read_image``)
    PNG, JPEG, TIFF, BMP and WebP; HEIC/HEIF, AVIF and camera RAW (DNG, CR2, CR3, NEF, ARW, RAF,
    ORF, RW2 and LibRaw's other formats) where their optional package is installed. The format is
    identified by the content, not the suffix (ISO-BMFF files by their ``ftyp`` brands; TIFF-based
    RAWs by their DNG or colour-filter-array directories, or, failing that, a RAW suffix). The result
    is ``LoadedImage(rgb, alpha, info)``: ``rgb`` is float32, shape (H, W, 3), C-contiguous, values
    in [0, 1], already turned upright by the EXIF orientation (all eight values); ``alpha`` is float32
    (H, W) in [0, 1] or None; ``info`` (``ImageInfo``) records format, size after orientation, bit
    depth, Pillow mode, ICC profile, EXIF bytes and orientation. Grey, grey+alpha, palette (with its
    transparency), CMYK (plain inversion, no colour management) and 16-bit files all become RGB;
    16-bit samples keep full precision (value / 65535). Multi-frame files give their first frame.
    ``read_image(path, native=True)`` keeps 8- and 16-bit samples as uint8 / uint16 RGB instead
    (a quarter / half of the memory), for callers that convert per tile (the tiled runner).

    TIFF is parsed and decoded by tifffile (``tiff``): planar or chunky samples, unsigned, signed or
    float, 1 to 64 bits, grey, RGB, palette, CMYK and JPEG YCbCr, associated alpha turned straight,
    the first page of a multi-page file; other layouts raise ``unsupported TIFF layout (...)``.
    HEIC/HEIF is read by pillow-heif (``heif``): the primary image, 8-bit, or 10/12-bit kept as
    16-bit samples (bit replication: black 0, white 65535), alpha kept, ICC and EXIF recorded;
    libheif applies the container's irot/imir while decoding (HEIF's orientation; an EXIF orientation
    there is informative only), so ``info.orientation`` is 1 and the recorded EXIF says 1. AVIF is
    read by Pillow's AVIF plugin (Pillow 11.3+ built with libavif; pillow-heif 1.x reads no AVIF):
    8-bit samples (libavif's 10/12-bit are reduced to 8 by Pillow), alpha, ICC, EXIF; Pillow reports
    irot/imir as the EXIF orientation, applied here once. Camera RAW is developed by rawpy/LibRaw
    (``raw``) to 16-bit RGB: ``raw_output="srgb"`` (default: as-shot white balance, sRGB primaries
    and curve, exposure as shot, no auto-brightening) or ``"linear"`` (the same, linear curve);
    LibRaw turns the pixels itself (orientation 1); ``info.format`` is ``"RAW (<make model>)"``
    where the file names its camera; TIFF-structured RAWs carry their EXIF.
    For the other formats Pillow parses the header and the metadata and decodes the pixels, except
    for 16-bit PNGs with colour or alpha, which Pillow truncates to 8 bits: those are decoded by
    OpenCV (IMREAD_UNCHANGED, BGR(A) turned into RGB(A)) from the file's pixel chunks only, so
    libpng has no ancillary chunk to print warnings about (``png``). A PNG is complete when its
    chain of chunks reaches IEND; bytes after IEND are allowed. Either way the pixels are decoded
    once, and the decoder's memory is released before the float32 copy is made. The orientation is
    applied here, once, as a view folded into that copy.

Optional packages
    pillow-heif (HEIC/HEIF) and rawpy (RAW) are the ``formats`` extra (``pip install
    irstudio[formats]``); AVIF needs a Pillow with AVIF support. They are imported on first use
    (``optional``). A file whose package is missing raises ``MissingCodecError`` (an
    ``UnreadableImageError``) whose message names the package and the pip command. ``READ_SUFFIXES``
    lists every readable suffix, the optional ones included; ``RAW_SUFFIXES`` the RAW ones.

Safety
    Empty, truncated, damaged and non-image files raise ``UnreadableImageError``. The pixel count is
    checked from the header, before any pixel is decoded, against ``max_pixels`` (``ImageTooLargeError``);
    for RAW both the developed size and the sensor's raw size are checked before LibRaw unpacks.
    Pillow's own decompression-bomb limit (``PIL.Image.MAX_IMAGE_PIXELS``) is not the one that applies:
    the files are parsed with the format plugins directly (which skip Pillow's check), and where Pillow
    checks again (WebP parsing, decoding) the global limit is raised, only when
    needed, to the size already approved here, under a lock, and put back right after. (A caller
    that sets Pillow's global ``ImageFile.LOAD_TRUNCATED_IMAGES`` makes Pillow accept truncated
    JPEG/TIFF/BMP/WebP data; truncated PNGs are still refused by the IEND check.)

Writing (``write_image``)
    PNG and TIFF (8 or 16 bit, with alpha), JPEG (8 bit, alpha dropped), WebP (8 bit, with alpha),
    and, where their encoder is present, HEIC/HEIF (pillow-heif with x265) and AVIF (Pillow with an
    AV1 encoder), 8 bit with alpha, 4:4:4 chroma at quality 90 and above; ``WRITE_SUFFIXES`` lists
    what this installation writes, and a HEIC/AVIF suffix without its encoder is refused with a
    message naming what to install. Camera RAW files are never written: a RAW suffix is refused,
    so no save can replace the RAW original.
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
    sniffing, header parsing, the pixel limit), ``tiff`` (TIFF through tifffile), ``heif`` (HEIF
    through pillow-heif), ``raw`` (camera RAW through rawpy), ``optional`` (finding the optional
    packages), ``png`` (the chunk chain), ``metadata`` (EXIF and ICC, both ways), ``reading``
    (``probe_image``, ``read_image``: decoding and orientation), ``samples`` (``to_uint8``,
    ``to_depth``, ``resize_alpha``), ``encoders`` (PNG, TIFF, JPEG, WebP, HEIC, AVIF) and
    ``writing`` (``write_image``, ``output_bit_depth``). Import the public names from this package.
"""

from __future__ import annotations

from irstudio.core.image_io.info import (
    AVIF_SUFFIXES,
    DEFAULT_MAX_PIXELS,
    HEIF_SUFFIXES,
    RAW_SUFFIXES,
    READ_SUFFIXES,
    WRITE_SUFFIXES,
    ImageError,
    ImageInfo,
    ImageTooLargeError,
    ImageWriteError,
    LoadedImage,
    MissingCodecError,
    OutputExistsError,
    UnreadableImageError,
)
from irstudio.core.image_io.raw import RAW_OUTPUTS
from irstudio.core.image_io.reading import probe_image, read_image
from irstudio.core.image_io.samples import SAMPLE_MAX, resize_alpha, sample_type, to_depth, to_uint8
from irstudio.core.image_io.writing import output_bit_depth, write_image

__all__ = [
    "AVIF_SUFFIXES",
    "DEFAULT_MAX_PIXELS",
    "HEIF_SUFFIXES",
    "RAW_OUTPUTS",
    "RAW_SUFFIXES",
    "READ_SUFFIXES",
    "SAMPLE_MAX",
    "WRITE_SUFFIXES",
    "ImageError",
    "ImageInfo",
    "ImageTooLargeError",
    "ImageWriteError",
    "LoadedImage",
    "MissingCodecError",
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
