"""Photos as the Bot API stores them: the image's real size, read from its header, in the
scaled copies Telegram makes (one PhotoSize per copy, smallest first)."""

from __future__ import annotations

import struct

from .common import JSON, bad_request

# Telegram keeps copies whose longer side is at most these many pixels.
_SIDES = (90, 320, 800, 1280, 2560)
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# JPEG start-of-frame markers that carry the size (not DHT 0xC4, JPG 0xC8, DAC 0xCC).
_JPEG_FRAMES = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def image_size(data: bytes) -> tuple[int, int]:
    """Width and height of a PNG or JPEG; what Telegram cannot decode is refused as it is."""
    if data.startswith(_PNG_SIGNATURE) and len(data) >= 24 and data[12:16] == b"IHDR":
        width, height = struct.unpack(">II", data[16:24])
        if width and height:
            return width, height
    if data.startswith(b"\xff\xd8"):
        size = _jpeg_size(data)
        if size is not None:
            return size
    raise bad_request("IMAGE_PROCESS_FAILED")


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    index = 2
    while index + 9 < len(data):
        if data[index] != 0xFF:
            return None
        marker = data[index + 1]
        length = int.from_bytes(data[index + 2 : index + 4], "big")
        if marker in _JPEG_FRAMES:
            height, width = struct.unpack(">HH", data[index + 5 : index + 9])
            return (width, height) if width and height else None
        index += 2 + length
    return None


def photo_sizes(file_id: str, unique_id: str, width: int, height: int, size: int) -> list[JSON]:
    """The PhotoSize array of a sent photo: each scaled copy up to the original's size."""
    longest = max(width, height)
    sizes: list[JSON] = []
    for number, side in enumerate(_SIDES):
        scale = min(side / longest, 1.0)
        sizes.append(
            {
                "file_id": f"{file_id}-{number}",
                "file_unique_id": f"{unique_id}-{number}",
                "width": max(round(width * scale), 1),
                "height": max(round(height * scale), 1),
                "file_size": max(round(size * scale * scale), 1),
            }
        )
        if scale == 1.0:
            break
    return sizes
