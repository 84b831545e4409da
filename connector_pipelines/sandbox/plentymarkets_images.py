"""Image files of the Plentymarkets emulator: solid-colour PNGs and JPEGs whose colour comes from an id."""

from __future__ import annotations

import hashlib
import struct
import zlib

from connector_pipelines.sandbox.plentymarkets_records import Image

IMAGE_SIZES: dict[str, int] = {"full": 64, "middle": 32, "preview": 16, "secondPreview": 8}


def _image_rgb(key: int) -> tuple[int, int, int]:
    digest = hashlib.blake2b(key.to_bytes(8, "big"), digest_size=3).digest()
    return digest[0], digest[1], digest[2]


def png_bytes(key: int, size: int) -> bytes:
    """A solid-colour PNG whose colour depends on ``key``."""
    r, g, b = _image_rgb(key)
    row = b"\x00" + bytes((r, g, b)) * size
    raw = zlib.compress(row * size, 1)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def jpeg_bytes(key: int, size: int) -> bytes:
    """A solid-colour baseline JPEG (4:4:4, unit quantisation, DC-only blocks), colour from ``key``.

    A solid block has only a DC coefficient, so a Huffman table with the twelve DC categories (all 4-bit
    codes) and an AC table holding just end-of-block encode it exactly; no imaging library is needed.
    Every block after the first repeats the same DC, so it encodes as 15 zero bits.
    """
    r, g, b = _image_rgb(key)
    ycc = (
        0.299 * r + 0.587 * g + 0.114 * b,
        128 - 0.168736 * r - 0.331264 * g + 0.5 * b,
        128 + 0.5 * r - 0.418688 * g - 0.081312 * b,
    )
    first: list[str] = []
    for value in ycc:
        diff = round(8 * (min(255.0, max(0.0, value)) - 128))
        category = abs(diff).bit_length()
        first.append(format(category, "04b"))
        if category:
            first.append(format(diff if diff > 0 else diff + (1 << category) - 1, f"0{category}b"))
        first.append("0")  # AC: end of block
    blocks = (size // 8) * (size // 8)
    stream = "".join(first) + "0" * (15 * (blocks - 1))
    stream += "1" * (-len(stream) % 8)
    scan = int(stream, 2).to_bytes(len(stream) // 8, "big").replace(b"\xff", b"\xff\x00")

    def segment(marker: int, payload: bytes) -> bytes:
        return struct.pack(">HH", marker, len(payload) + 2) + payload

    dc_table = bytes([0x00, 0, 0, 0, 12, *([0] * 12), *range(12)])
    ac_table = bytes([0x10, 1, *([0] * 15), 0x00])
    return b"".join(
        (
            b"\xff\xd8",
            segment(0xFFE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"),
            segment(0xFFFE, f"plenty-sandbox image {key}".encode()),
            segment(0xFFDB, b"\x00" + b"\x01" * 64),
            segment(0xFFC0, struct.pack(">BHHB", 8, size, size, 3) + b"\x01\x11\x00\x02\x11\x00\x03\x11\x00"),
            segment(0xFFC4, dc_table + ac_table),
            segment(0xFFDA, b"\x03\x01\x00\x02\x00\x03\x00\x00\x3f\x00"),
            scan,
            b"\xff\xd9",
        )
    )


def image_bytes(image: Image, size_name: str) -> bytes:
    size = IMAGE_SIZES[size_name]
    key = image.file_of or image.id
    return png_bytes(key, size) if image.file_type == "png" else jpeg_bytes(key, size)


def manufacturer_logo_bytes(manufacturer_id: int) -> bytes:
    return png_bytes(1_000_000 + manufacturer_id, IMAGE_SIZES["middle"])
