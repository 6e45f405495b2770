"""PNG through Wuffs: Pillow's pixels (and the source's) over a sweep of PNG kinds, every
filter type, Adam7 interlacing, colour metadata and odd sizes; what Wuffs refuses or Pillow
alone accepts goes to Pillow, with Pillow's answer or error."""

import struct
import zlib
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image

from service.regions import imaging
from tests.service.regions.test_fast_decode import decode, encode, fast_taken, photo

SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Adam7 passes: (x0, y0, dx, dy)
ADAM7 = (
    (0, 0, 8, 8),
    (4, 0, 8, 8),
    (0, 4, 4, 8),
    (2, 0, 4, 4),
    (0, 2, 2, 4),
    (1, 0, 2, 2),
    (0, 1, 1, 2),
)
SIZES = ((1, 1), (7, 5), (67, 45), (301, 203))


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def filtered(rows: np.ndarray, bpp: int) -> bytes:
    """Row i filtered by type i % 5 (None, Sub, Up, Average, Paeth), as PNG specifies."""
    raw = rows.astype(np.int32)
    left = np.pad(raw, ((0, 0), (bpp, 0)))[:, : raw.shape[1]]
    up = np.pad(raw, ((1, 0), (0, 0)))[: len(raw)]
    up_left = np.pad(up, ((0, 0), (bpp, 0)))[:, : raw.shape[1]]
    guess = left + up - up_left
    near_left, near_up = np.abs(guess - left), np.abs(guess - up)
    near_up_left = np.abs(guess - up_left)
    paeth = np.where(
        (near_left <= near_up) & (near_left <= near_up_left),
        left,
        np.where(near_up <= near_up_left, up, up_left),
    )
    predictions = np.stack([np.zeros_like(raw), left, up, (left + up) // 2, paeth])
    kinds = np.arange(len(raw)) % 5
    out = ((raw - predictions[kinds, np.arange(len(raw))]) % 256).astype(np.uint8)
    return b"".join(bytes([k]) + row.tobytes() for k, row in zip(kinds, out, strict=True))


def png_file(pixels: np.ndarray, interlaced: bool = False, chunks: bytes = b"") -> bytes:
    """A PNG of (h, w) grey or (h, w, 3) RGB pixels, 8 or 16 bits, `chunks` before IDAT."""
    height, width = pixels.shape[:2]
    colour = 2 if pixels.ndim == 3 else 0
    bits = 8 * pixels.itemsize
    stored = pixels.astype(pixels.dtype.newbyteorder(">")).reshape(height, width, -1)
    bpp = stored.shape[2] * pixels.itemsize
    passes = [stored[y0::dy, x0::dx] for x0, y0, dx, dy in ADAM7] if interlaced else [stored]
    scanlines = b"".join(
        filtered(p.view(np.uint8).reshape(len(p), -1), bpp) for p in passes if p.size
    )
    header = struct.pack(">IIBBBBB", width, height, bits, colour, 0, 0, int(interlaced))
    return (
        SIGNATURE
        + chunk(b"IHDR", header)
        + chunks
        + chunk(b"IDAT", zlib.compress(scanlines))
        + chunk(b"IEND", b"")
    )


def flat(width: int, height: int) -> np.ndarray:
    """Screenshot-like: solid panels, one-pixel rules and a few coloured dots."""
    pixels = np.full((height, width, 3), 240, np.uint8)
    pixels[: height // 3, :] = (30, 60, 120)
    pixels[::9, :] = 200
    pixels[:, ::13] = (0, 0, 0)
    pixels[height // 2 :: 5, width // 2 :: 7] = (250, 20, 20)
    return pixels


def kinds() -> dict[str, tuple[np.ndarray, bytes]]:
    """Source pixels and their PNG: photo-like (noise: every filter) and flat, colour and
    grey, progressive (Adam7) or not, over odd and tiny sizes."""
    out = {}
    for width, height in SIZES:
        for content, rgb in (
            ("photo", np.asarray(photo(width, height))),
            ("flat", flat(width, height)),
        ):
            grey = np.asarray(Image.fromarray(rgb).convert("L"))
            for mode, pixels in (("rgb", rgb), ("grey", grey)):
                for interlaced in (False, True):
                    name = f"{content} {mode} {width}x{height}" + " adam7" * interlaced
                    out[name] = (pixels, png_file(pixels, interlaced))
    return out


KINDS = kinds()
# (name, mode, chunks): each where the PNG specification allows it.
METADATA = [
    ("gAMA", "rgb", chunk(b"gAMA", struct.pack(">I", 100000))),
    ("gAMA", "grey", chunk(b"gAMA", struct.pack(">I", 220000))),
    (
        "cHRM",
        "rgb",
        chunk(b"cHRM", struct.pack(">8I", 31270, 32900, 64000, 33000, 30000, 60000, 15000, 6000)),
    ),
    ("sRGB", "rgb", chunk(b"sRGB", b"\x00")),
    ("iCCP", "rgb", chunk(b"iCCP", b"skewed\x00\x00" + zlib.compress(bytes(range(256)) * 4))),
    ("iCCP", "grey", chunk(b"iCCP", b"grey\x00\x00" + zlib.compress(bytes(200)))),
    ("suggested PLTE", "rgb", chunk(b"PLTE", bytes(range(48)))),
    ("sBIT and bKGD", "rgb", chunk(b"sBIT", b"\x05\x06\x05") + chunk(b"bKGD", bytes(6))),
    ("sBIT and bKGD", "grey", chunk(b"sBIT", b"\x05") + chunk(b"bKGD", bytes(2))),
]


# Pillow's own encoder: its adaptive filters, stored blocks and split IDATs.
PILLOW_ENCODED = {
    "pillow level 0 (stored)": encode(photo(), "PNG", compress_level=0),
    "pillow level 1, 640x480": encode(photo(640, 480), "PNG", compress_level=1),
    "pillow level 9, grey": encode(photo(301, 203, "L"), "PNG", compress_level=9),
    "pillow optimize, flat 640x480": encode(Image.fromarray(flat(640, 480)), "PNG", optimize=True),
}


def with_idat(data: bytes, body: bytes, crc_flip: int = 0) -> bytes:
    """`data` with its one IDAT's body replaced (its CRC XOR `crc_flip`)."""
    start = data.index(b"IDAT") - 4
    end = start + 12 + int.from_bytes(data[start : start + 4], "big")
    idat = chunk(b"IDAT", body)
    crc = int.from_bytes(idat[-4:], "big") ^ crc_flip
    return data[:start] + idat[:-4] + crc.to_bytes(4, "big") + data[end:]


PIXELS = flat(23, 17)
SMALL = png_file(PIXELS)
SCANLINES = filtered(PIXELS.reshape(17, -1), 3)
ADLER_WRONG = zlib.compress(SCANLINES)[:-1] + bytes([zlib.compress(SCANLINES)[-1] ^ 1])
FIRST_IHDR = chunk(b"IHDR", struct.pack(">IIBBBBB", 17, 23, 8, 2, 0, 0, 0))
# Pillow decodes these the same, but not through Wuffs: the file stays with Pillow.
PILLOW_ONLY = {
    "trailing bytes after IEND": SMALL + b"junk",
    "bad IDAT CRC (Pillow ignores it)": with_idat(SMALL, zlib.compress(SCANLINES), 1),
    "more image data than rows": with_idat(SMALL, zlib.compress(SCANLINES + bytes(70))),
    "bytes after the zlib stream": with_idat(SMALL, zlib.compress(SCANLINES) + b"junk"),
    "unknown critical chunk": SMALL[:33] + chunk(b"ABCD", b"xx") + SMALL[33:],
    "two IHDR chunks (Pillow reads the last)": SMALL[:8] + FIRST_IHDR + SMALL[8:],
    "16-bit rgb": png_file(PIXELS.astype(np.uint16) * 257),
    "a transparent colour after the pixels (Pillow whitens it)": SMALL[:-12]
    + chunk(b"tRNS", struct.pack(">HHH", *PIXELS[0, 0].tolist()))
    + SMALL[-12:],
}
# Broken files: Pillow's error, whichever path looks first.
BROKEN = {
    "bad Adler-32": with_idat(SMALL, ADLER_WRONG),
    "rows missing": with_idat(SMALL, zlib.compress(SCANLINES[:-20])),
    "filter type 5": with_idat(SMALL, zlib.compress(b"\x05" + SCANLINES[1:])),
}


@pytest.mark.parametrize("name", list(KINDS))
def test_kinds_decode_to_the_source_pixels(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    pixels, data = KINDS[name]
    expected = pixels if pixels.ndim == 3 else np.repeat(pixels[:, :, None], 3, axis=2)
    fast, pillow = decode(data, True, monkeypatch), decode(data, False, monkeypatch)
    np.testing.assert_array_equal(pillow.pixels, expected)
    np.testing.assert_array_equal(fast.pixels, expected)
    assert fast.pixels.flags.c_contiguous and fast_taken(data, monkeypatch)


@pytest.mark.parametrize(
    ("name", "mode", "metadata"), METADATA, ids=[f"{n} {m}" for n, m, _ in METADATA]
)
def test_colour_metadata_changes_no_pixel(
    name: str, mode: str, metadata: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    pixels = KINDS[f"photo {mode} 67x45"][0]
    data = png_file(pixels, chunks=metadata)
    fast, pillow = decode(data, True, monkeypatch), decode(data, False, monkeypatch)
    np.testing.assert_array_equal(fast.pixels, pillow.pixels)
    assert fast_taken(data, monkeypatch)


@pytest.mark.parametrize("name", list(PILLOW_ENCODED))
def test_pillows_own_files(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    data = PILLOW_ENCODED[name]
    fast, pillow = decode(data, True, monkeypatch), decode(data, False, monkeypatch)
    assert (fast.width, fast.height, fast.scale) == (pillow.width, pillow.height, pillow.scale)
    np.testing.assert_array_equal(fast.pixels, pillow.pixels)
    assert fast_taken(data, monkeypatch)


@pytest.mark.parametrize("name", list(PILLOW_ONLY))
def test_what_wuffs_refuses_is_pillows(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    data = PILLOW_ONLY[name]
    fast, pillow = decode(data, True, monkeypatch), decode(data, False, monkeypatch)
    np.testing.assert_array_equal(fast.pixels, pillow.pixels)
    assert not fast_taken(data, monkeypatch)


@pytest.mark.parametrize("name", list(BROKEN))
def test_broken_files_get_pillows_error(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    messages = []
    for fast in (True, False):
        with pytest.raises(imaging.BadRequest) as refused:
            decode(BROKEN[name], fast, monkeypatch)
        messages.append(refused.value.detail)
    assert messages[0] == messages[1] and messages[0].startswith("image could not be decoded")


def test_threads_decode_side_by_side(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Wuffs decoder is not thread-safe: each call has its own."""
    names = [n for n in KINDS if "301x203" in n]
    with ThreadPoolExecutor(4) as pool:
        pictures = list(pool.map(lambda n: decode(KINDS[n][1], True, monkeypatch), names * 4))
    for name, picture in zip(names * 4, pictures, strict=True):
        expected = decode(KINDS[name][1], False, monkeypatch).pixels
        np.testing.assert_array_equal(picture.pixels, expected)
