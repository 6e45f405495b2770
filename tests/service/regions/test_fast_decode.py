"""The fast path (simplejpeg for JPEG, Wuffs for PNG) decodes exactly Pillow's pixels (the
service's decode before it), for every format, mode and orientation, and leaves to Pillow
what it cannot match."""

import io
from typing import Any

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from service.regions import imaging
from service.regions.imaging import decode_picture
from service.regions.picture import Picture


def encode(image: Image.Image, fmt: str, **save: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **save)
    return out.getvalue()


def photo(width: int = 67, height: int = 45, mode: str = "RGB") -> Image.Image:
    """Smooth gradients and noise: chroma subsampling and filters both have work to do."""
    rng = np.random.default_rng(width * height)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 // width, y * 255 // height, (x + y) % 256], axis=2)
    noisy = np.clip(base + rng.integers(-20, 21, base.shape), 0, 255).astype(np.uint8)
    return Image.fromarray(noisy, "RGB").convert(mode)


def exif(orientation: int) -> Image.Exif:
    tags = Image.Exif()
    tags[0x0112] = orientation
    return tags


def xmp_png(orientation: int) -> bytes:
    info = PngImagePlugin.PngInfo()
    xmp = f'<x:xmpmeta><rdf:Description tiff:Orientation="{orientation}"/></x:xmpmeta>'
    info.add_itxt("XML:com.adobe.xmp", xmp)
    return encode(photo(), "PNG", pnginfo=info)


def oriented(orientation: int) -> bytes:
    return encode(photo(), "JPEG", exif=exif(orientation), quality=90)


FAST = {
    "jpeg rgb q90": encode(photo(), "JPEG", quality=90),
    "jpeg rgb 4:4:4": encode(photo(), "JPEG", quality=95, subsampling=0),
    "jpeg rgb 4:2:2": encode(photo(), "JPEG", quality=75, subsampling=1),
    "jpeg rgb 301x203 q60": encode(photo(301, 203), "JPEG", quality=60),
    "jpeg progressive": encode(photo(), "JPEG", quality=80, progressive=True),
    "jpeg grey": encode(photo(mode="L"), "JPEG", quality=90),
    **{f"jpeg orientation {o}": oriented(o) for o in range(1, 9)},
    "png rgb": encode(photo(), "PNG"),
    "png grey": encode(photo(mode="L"), "PNG"),
    "png rgb 1500 px (reduced)": encode(photo(1500, 300), "PNG", compress_level=1),
}
PILLOW = {
    "jpeg 2400 px (drafted)": encode(photo(2400, 1200), "JPEG", quality=90),
    "jpeg cmyk": encode(photo(mode="CMYK"), "JPEG"),
    "jpeg truncated": encode(photo(), "JPEG")[:-2] + b"\x00\x00",
    "png palette": encode(photo().convert("P"), "PNG"),
    "png rgba": encode(photo(mode="RGBA"), "PNG"),
    "png grey alpha": encode(photo(mode="LA"), "PNG"),
    "png 16-bit grey": encode(Image.fromarray(np.arange(3015, dtype=np.uint16) * 19), "PNG"),
    "png rgb with transparency": encode(photo(), "PNG", transparency=(0, 0, 0)),
    "png 1-bit": encode(photo(mode="1"), "PNG"),
    "png turned by eXIf": encode(photo(), "PNG", exif=exif(6)),
    "png turned by XMP": xmp_png(6),
    "webp": encode(photo(), "WEBP", quality=90),
    "bmp": encode(photo(), "BMP"),
    "gif": encode(photo().convert("P"), "GIF"),
    "tiff": encode(photo(), "TIFF"),
}


def decode(data: bytes, fast: bool, monkeypatch: pytest.MonkeyPatch) -> Picture:
    with monkeypatch.context() as patch:
        if not fast:  # Pillow alone: the service's decoder before the fast path
            patch.setattr(imaging, "fast_pixels", lambda *_: None)
        return decode_picture(data, 10**7, 1024, 2**30)


def fast_taken(data: bytes, monkeypatch: pytest.MonkeyPatch) -> bool:
    taken: list[bool] = []

    def spy(*args: Any) -> np.ndarray | None:
        pixels = imaging_fast(*args)
        taken.append(pixels is not None)
        return pixels

    imaging_fast = imaging.fast_pixels
    with monkeypatch.context() as patch:
        patch.setattr(imaging, "fast_pixels", spy)
        decode_picture(data, 10**7, 1024, 2**30)
    return taken == [True]


@pytest.mark.parametrize("name", [*FAST, *PILLOW])
def test_pixels_are_pillows(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    data = {**FAST, **PILLOW}[name]
    if name == "jpeg truncated":
        return  # an error either way: test_errors_stay_pillows
    fast, pillow = decode(data, True, monkeypatch), decode(data, False, monkeypatch)
    assert (fast.width, fast.height, fast.scale) == (pillow.width, pillow.height, pillow.scale)
    assert fast.pixels.dtype == np.uint8 and fast.pixels.flags.c_contiguous
    np.testing.assert_array_equal(fast.pixels, pillow.pixels)
    assert fast_taken(data, monkeypatch) == (name in FAST)


def test_orientation_turns_the_image_as_displayed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Orientation 6: shown a quarter turn clockwise, so the stored left column is on top."""
    stored = decode(oriented(1), True, monkeypatch).pixels
    turned = decode(oriented(6), True, monkeypatch)
    assert (turned.width, turned.height) == (45, 67)
    np.testing.assert_array_equal(turned.pixels, np.rot90(stored, -1))


def test_errors_stay_pillows(monkeypatch: pytest.MonkeyPatch) -> None:
    """A truncated file is refused with Pillow's message whichever path looks at it."""
    messages = []
    for fast in (True, False):
        with pytest.raises(imaging.BadRequest) as refused:
            decode(PILLOW["jpeg truncated"], fast, monkeypatch)
        messages.append(refused.value.detail)
    assert messages[0] == messages[1] and messages[0].startswith("image could not be decoded")
