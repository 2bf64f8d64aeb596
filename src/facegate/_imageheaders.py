"""Image sizes read straight from PNG, JPEG, WebP and BMP headers, for :mod:`facegate.imageio`.

:func:`header_size` runs before Pillow opens the data, so an image over the pixel limit is
refused before any decoder allocates memory for it. It only reads bytes: no exceptions of
its own, None when the size cannot be found (Pillow then reports the damage).
"""

from __future__ import annotations

import struct
from typing import Final

__all__ = ["header_size"]

# JPEG start-of-frame markers (SOF0-SOF15 without DHT, JPG and DAC), which carry the size.
_JPEG_SOF: Final = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def header_size(fmt: str, data: bytes) -> tuple[int, int] | None:
    """``(width, height)`` read straight from the header, or None when it cannot be found.

    Checked before Pillow opens the image, so an image over the limit never reaches a decoder
    (Pillow's WebP plugin allocates the canvas when it opens a file).
    """
    try:
        if fmt == "PNG":
            return struct.unpack(">II", data[16:24]) if data[12:16] == b"IHDR" else None
        if fmt == "BMP":
            return _bmp_size(data)
        if fmt == "WEBP":
            return _webp_size(data)
        return _jpeg_size(data)
    except (struct.error, IndexError):
        return None  # too short: Pillow reports the damage


def _bmp_size(data: bytes) -> tuple[int, int]:
    (header_len,) = struct.unpack("<I", data[14:18])
    if header_len == 12:  # OS/2 BITMAPCOREHEADER
        return struct.unpack("<HH", data[18:22])
    width, height = struct.unpack("<ii", data[18:26])
    return abs(width), abs(height)  # a negative height means top-down rows


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8 " and data[23:26] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and data[20] == 0x2F:
        (bits,) = struct.unpack("<I", data[21:25])
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return width, height
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    """Walk the JPEG marker segments up to the first start-of-frame."""
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
            pos += 2
            continue
        if marker in _JPEG_SOF:
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            return (width, height) if height else None  # height 0: defined later (DNL)
        if marker == 0xDA:  # start of scan before any frame header
            return None
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        pos += 2 + length
    return None
