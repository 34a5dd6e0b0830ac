"""PNG chunk walking: the end check, the pixel-only stream OpenCV decodes, the colour chunks carried.

A PNG is a signature and a chain of chunks (length, type, payload, CRC). Walking the chain finds
IEND wherever it is, so a file with any amount of trailing data after IEND is valid (as the PNG
specification says) while a file cut before IEND is truncated. OpenCV's decoder (libpng) prints
warnings about ancillary chunks (a malformed iCCP, a known incorrect sRGB profile) straight to the
process's stderr; it is given only the chunks that make pixels (IHDR, PLTE, tRNS, IDAT, IEND), the
metadata having been read already, so a refusal or a success is never preceded by libpng's noise.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator, Mapping
from typing import Any, BinaryIO

import numpy as np

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PIXEL_CHUNKS = frozenset({b"IHDR", b"PLTE", b"tRNS", b"IDAT", b"IEND"})
COLOUR_CHUNKS = (b"gAMA", b"cHRM", b"sRGB")
"""Ancillary chunks that say how to read the samples' values: carried to a PNG written from it."""


def _chunks(stream: BinaryIO, size: int) -> Iterator[tuple[bytes, int, int]]:
    """(type, offset of the chunk, total length with header and CRC) for each chunk that fits the
    file; stops after IEND or at the first chunk that runs past ``size``."""
    position = len(PNG_SIGNATURE)
    while position + 12 <= size:
        stream.seek(position)
        header = stream.read(8)
        if len(header) < 8:
            return
        (length,) = struct.unpack(">I", header[:4])
        total = 12 + length
        if position + total > size:
            return
        yield header[4:], position, total
        if header[4:] == b"IEND":
            return
        position += total


def png_has_end(path: os.PathLike[str] | str) -> bool:
    """Whether the chain of chunks reaches IEND inside the file (trailing bytes after it are fine)."""
    with open(path, "rb") as stream:
        size = stream.seek(0, os.SEEK_END)
        return any(kind == b"IEND" for kind, _, _ in _chunks(stream, size))


def png_pixel_bytes(path: os.PathLike[str] | str) -> np.ndarray:
    """The file re-chained with its pixel chunks only (uint8), for OpenCV's decoder; trailing data
    and ancillary chunks are left out. Raises ``OSError`` when the file cannot be read and
    ``ValueError`` when the chain is cut before IEND (a truncated file)."""
    with open(path, "rb") as stream:
        size = stream.seek(0, os.SEEK_END)
        chain = list(_chunks(stream, size))
        if not chain or chain[-1][0] != b"IEND":
            raise ValueError("the IEND chunk is missing")
        kept = [(offset, total) for kind, offset, total in chain if kind in _PIXEL_CHUNKS]
        out = np.empty(len(PNG_SIGNATURE) + sum(total for _, total in kept), dtype=np.uint8)
        out[: len(PNG_SIGNATURE)] = np.frombuffer(PNG_SIGNATURE, np.uint8)
        position = len(PNG_SIGNATURE)
        for offset, total in kept:
            stream.seek(offset)
            stream.readinto(out.data[position : position + total])
            position += total
        return out


def colour_chunks_from_pillow(info: Mapping[str | tuple[int, int], Any]) -> tuple[tuple[bytes, bytes], ...]:
    """(type, payload) of the gAMA, cHRM and sRGB chunks Pillow parsed into ``info``.

    Pillow stores gAMA and cHRM divided by 100000; multiplying back and rounding restores the
    stored integers exactly.
    """
    chunks: list[tuple[bytes, bytes]] = []
    if "gamma" in info:
        chunks.append((b"gAMA", struct.pack(">I", round(float(info["gamma"]) * 100000))))
    chromaticity = info.get("chromaticity")
    if chromaticity is not None and len(chromaticity) == 8:
        chunks.append((b"cHRM", struct.pack(">8I", *(round(float(v) * 100000) for v in chromaticity))))
    if "srgb" in info:
        chunks.append((b"sRGB", bytes([int(info["srgb"]) & 0xFF])))
    return tuple(chunks)
