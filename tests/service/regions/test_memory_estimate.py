"""The memory estimate read from a plain JPEG's markers is the one Pillow's header gives, and
every other file is left to Pillow; a large file's header is read on the event loop only
where that is quick."""

import asyncio
import io
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from service.errors import ServiceError
from service.regions import memory_estimate
from service.regions.imaging import open_image
from service.regions.jpeg_header import plain_jpeg
from service.regions.memory_estimate import image_bytes, reservation
from service.regions.png_header import small_png_header

MAX_PIXELS, BOUND, MAX_BYTES = 40_000_000, 1024, 256 * 2**20


def jpeg(size: tuple[int, int] = (512, 384), mode: str = "RGB", **options: object) -> bytes:
    pixels = np.random.default_rng(0).integers(0, 256, (size[1], size[0], 3), np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).convert(mode).save(out, format="JPEG", **options)
    return out.getvalue()


def with_orientation(turn: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = turn
    return jpeg(exif=exif.tobytes())


def by_pillow(data: bytes, monkeypatch: pytest.MonkeyPatch, *limits: int) -> int:
    with monkeypatch.context() as patch:
        patch.setattr(memory_estimate, "plain_jpeg", lambda data: None)
        return image_bytes(data, *limits)


PLAIN = {
    "rgb": jpeg(),
    "grey": jpeg(mode="L"),
    "4:4:4": jpeg(subsampling=0, quality=95),
    "optimized tables": jpeg(optimize=True),
    "comment": jpeg(comment=b"a comment"),
    "restart intervals": jpeg(restart_marker_blocks=2),
    "odd size": jpeg((33, 1001)),
}
NOT_PLAIN = {
    "progressive": jpeg(progressive=True),
    "exif orientation": with_orientation(6),
    "icc profile": jpeg(icc_profile=b"\0" * 200),
    "cmyk": jpeg(mode="CMYK"),
    "png": b"\x89PNG\r\n\x1a\n" + b"\0" * 100,
    "cut in its header": jpeg()[:300],
    "forty comments": jpeg()[:2] + b"\xff\xfe\x00\x03x" * 40 + jpeg()[2:],  # Pillow reads them
}
LIMITS = [
    (MAX_PIXELS, BOUND, MAX_BYTES),
    (100_000, BOUND, MAX_BYTES),  # too many pixels: nothing reserved
    (MAX_PIXELS, BOUND, 2**20),  # too much to decode: nothing reserved
    (MAX_PIXELS, 256, MAX_BYTES),  # beyond the bound: drafted, so Pillow's plan
    (MAX_PIXELS, (1001, 33), MAX_BYTES),
]


@pytest.mark.parametrize("limits", LIMITS, ids=str)
@pytest.mark.parametrize("name", [*PLAIN, *NOT_PLAIN])
def test_the_estimate_is_pillows(
    name: str, limits: tuple[int, int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = {**PLAIN, **NOT_PLAIN}[name]
    assert (plain_jpeg(data) is not None) == (name in PLAIN)
    assert image_bytes(data, *limits) == by_pillow(data, monkeypatch, *limits)


@pytest.mark.parametrize("name", PLAIN)
def test_plain_headers_read_as_pillow_reads_them(name: str) -> None:
    header = plain_jpeg(PLAIN[name])
    assert header is not None
    with open_image(PLAIN[name]) as image:
        assert (header.width, header.height, header.mode) == (*image.size, image.mode)
        assert "progressive" not in image.info and not image.getexif()


def test_a_changed_header_byte_reads_as_pillow_reads_it_or_goes_to_pillow() -> None:
    """Where the markers give a header, Pillow (when it opens the file) gives the same."""
    data = PLAIN["rgb"]
    head = data.index(b"\xff\xda")  # everything before the first scan
    rng = np.random.default_rng(29)
    compared = 0
    for _ in range(300):
        at, value = int(rng.integers(head)), int(rng.integers(256))
        changed = data[:at] + bytes([value]) + data[at + 1 :]
        header = plain_jpeg(changed)
        if header is None:
            continue
        try:
            image = open_image(changed)
        except ServiceError:  # refused by Pillow: the decoder refuses it too
            continue
        with image:
            assert (header.width, header.height, header.mode) == (*image.size, image.mode)
            assert "progressive" not in image.info and not image.getexif()
        compared += 1
    assert compared > 100  # most changes land in table values, which both read alike


def png(text: str | None = None, **options: object) -> bytes:
    """A 600x600 noise PNG: past the inline size (256 KiB), with a text chunk if asked."""
    pixels = np.random.default_rng(1).integers(0, 256, (600, 600, 3), np.uint8)
    info = PngInfo()
    if text is not None:
        info.add_text("comment", text)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG", pnginfo=info, **options)
    return out.getvalue()


LARGE = {
    "plain JPEG": jpeg((1000, 1000), quality=100),
    "PNG": png(),
    "PNG with text": png("a note"),
    "JPEG beyond the bound": jpeg((1400, 1000), quality=100),
    "progressive JPEG": jpeg((1000, 1000), quality=100, progressive=True),
}
READ_HERE = {"plain JPEG", "PNG"}  # the others' headers are read in a thread


@pytest.mark.parametrize("name", LARGE)
def test_large_files_reserve_as_estimated_in_a_thread_only_when_pillow_may_be_slow(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    data, threads = LARGE[name], []
    assert len(data) > memory_estimate.INLINE_BYTES

    async def in_a_thread(fn: Callable[..., int], *args: object) -> int:
        threads.append(fn)
        return fn(*args)

    monkeypatch.setattr(memory_estimate, "run_in_threadpool", in_a_thread)
    limits = (MAX_PIXELS, BOUND, MAX_BYTES)
    assert asyncio.run(reservation(data, *limits)) == by_pillow(data, monkeypatch, *limits) > 0
    assert (not threads) == (name in READ_HERE)


def test_small_png_headers() -> None:
    assert small_png_header(png())
    assert not small_png_header(png("a note"))  # Pillow reads (and may inflate) text first
    assert not small_png_header(png(icc_profile=bytes(1000)))  # and inflates an ICC profile
    assert not small_png_header(png()[:40])  # cut before its first IDAT
    assert not small_png_header(jpeg())


PEAK_SCRIPT = """
import sys
from pathlib import Path
from service.regions.imaging import decode_picture
from service.regions.memory_estimate import image_bytes

def status(field):  # bytes, from kB
    lines = Path("/proc/self/status").read_text().splitlines()
    return int(next(l for l in lines if l.startswith(field)).split()[1]) * 1024

data = open(sys.argv[1], "rb").read()
limits = (10**9, 1024, 2**31)
estimate = image_bytes(data, *limits)
Path("/proc/self/clear_refs").write_text("5")  # the peak (VmHWM) starts again from now
before = status("VmRSS:")
decode_picture(data, *limits)
print(estimate, status("VmHWM:") - before)
"""


@pytest.mark.parametrize("mode", ["RGB", "L"])
def test_a_large_png_decodes_within_its_estimate(mode: str, tmp_path: Path) -> None:
    """Wuffs' own buffers (filtered rows, pixels, the copy read out) are counted: the peak
    the decode adds to a fresh process stays under what the budget reserves for it."""
    shape = (3000, 3000, 3) if mode == "RGB" else (3000, 3000)
    pixels = np.random.default_rng(0).integers(0, 40, shape, np.uint8)
    path = tmp_path / "large.png"
    Image.fromarray(pixels, mode).save(path, compress_level=1)
    run = subprocess.run(
        [sys.executable, "-c", PEAK_SCRIPT, str(path)],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parents[3],
    )
    estimate, peak = map(int, run.stdout.split())
    assert peak > pixels.nbytes  # the decode was measured: at least its own pixels
    assert peak <= estimate
