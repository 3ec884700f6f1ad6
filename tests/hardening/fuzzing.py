"""Seeded byte mutations of real files: what a broken scanner, a truncated copy or an attacker sends."""

from __future__ import annotations

import random
import struct
import zlib
from collections.abc import Callable, Iterator

Mutation = Callable[[random.Random, bytearray, bytes], bytearray]


def _flip_bytes(rng: random.Random, data: bytearray, _other: bytes) -> bytearray:
    head = min(len(data), 4096)  # most parsing decisions are made in the header
    for _ in range(rng.randint(1, 16)):
        where = rng.randrange(head) if rng.random() < 0.7 else rng.randrange(len(data))
        data[where] = rng.randrange(256)
    return data


def _truncate(rng: random.Random, data: bytearray, _other: bytes) -> bytearray:
    return data[: rng.randrange(len(data))]


def _splice(rng: random.Random, data: bytearray, other: bytes) -> bytearray:
    """This file's header with another file's body: valid-looking structure, wrong content."""
    cut = rng.randrange(1, len(data))
    return data[:cut] + other[rng.randrange(len(other)):]


def _extreme_integers(rng: random.Random, data: bytearray, _other: bytes) -> bytearray:
    """Overwrite a 2- or 4-byte field near the start with 0 or a maximal value (sizes, lengths, counts)."""
    for _ in range(rng.randint(1, 4)):
        where = rng.randrange(max(1, min(len(data), 1024) - 4))
        value = rng.choice([0, 1, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF])
        fmt = rng.choice(["<H", ">H", "<I", ">I"])
        data[where:where + struct.calcsize(fmt)] = struct.pack(fmt, value & (0xFFFF if "H" in fmt else 0xFFFFFFFF))
    return data


def _duplicate_chunk(rng: random.Random, data: bytearray, _other: bytes) -> bytearray:
    start = rng.randrange(len(data))
    chunk = data[start:start + rng.randint(1, 512)]
    where = rng.randrange(len(data))
    return data[:where] + chunk * rng.randint(1, 8) + data[where:]


MUTATIONS: tuple[Mutation, ...] = (_flip_bytes, _truncate, _splice, _extreme_integers, _duplicate_chunk)


def mutants(seeds: list[bytes], count: int, seed: int = 9) -> Iterator[bytes]:
    """``count`` mutated copies of the seed files, reproducible from ``seed``."""
    rng = random.Random(seed)
    for _ in range(count):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 3)):
            if len(data) < 2:
                break
            data = rng.choice(MUTATIONS)(rng, data, rng.choice(seeds))
        yield bytes(data)


def png_header_only(width: int, height: int, bit_depth: int = 8, colour_type: int = 0) -> bytes:
    """A PNG announcing ``width`` x ``height`` pixels with a tiny image stream: a decompression bomb's header."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 4096, 9)) + \
        chunk(b"IEND", b"")
