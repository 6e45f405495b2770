"""Odd but valid images are answered 200, decoded as a person would see them."""

import base64
import io

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from service.errors import PayloadTooLarge
from service.regions.imaging import decode_picture
from tests.service.conftest import png_bytes


def encode(image: Image.Image, fmt: str, **save: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **save)
    return out.getvalue()


def animated_gif() -> bytes:
    frames = [Image.new("P", (32, 24), c) for c in (1, 2, 3)]
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:])


ODD = {
    "cmyk jpeg": encode(Image.new("CMYK", (40, 30), (0, 255, 255, 0)), "JPEG"),
    "16-bit png": encode(Image.fromarray(np.full((30, 40), 65535, np.uint16)), "PNG"),
    "palette png": encode(Image.new("RGB", (40, 30), (10, 200, 30)).convert("P"), "PNG"),
    "rgba png": encode(Image.new("RGBA", (40, 30), (255, 0, 0, 0)), "PNG"),
    "la png": encode(Image.new("LA", (40, 30), (0, 128)), "PNG"),
    "1-bit bmp": encode(Image.new("1", (40, 30), 1), "BMP"),
    "animated gif": animated_gif(),
    "1x1 webp": encode(Image.new("RGB", (1, 1), (5, 6, 7)), "WEBP", lossless=True),
    "tiff": encode(Image.new("RGB", (40, 30), (1, 2, 3)), "TIFF"),
}


def full_size(data: bytes) -> np.ndarray:
    """(H, W, 3) RGB at full size, as displayed: the service's decoder without a bound."""
    return decode_picture(data, 10**6, None, 2**62).pixels


@pytest.mark.parametrize("name", ODD)
def test_odd_images_are_answered(client: TestClient, name: str) -> None:
    response = client.post(
        "/classify-regions", files={"image": ("x", ODD[name])}, data={"boxes": "[[0, 0, 1, 1]]"}
    )
    assert response.status_code == 200, response.text
    assert len(response.json()["regions"]) == 1


def test_decoded_values() -> None:
    assert full_size(ODD["16-bit png"])[0, 0].tolist() == [255, 255, 255]
    assert full_size(ODD["rgba png"])[0, 0].tolist() == [255, 255, 255]  # on white
    assert full_size(ODD["la png"])[0, 0].tolist() == [127, 127, 127]  # 0 at 50 %
    assert full_size(ODD["1x1 webp"]).tolist() == [[[5, 6, 7]]]
    assert full_size(ODD["animated gif"]).shape == (24, 32, 3)


def test_exif_orientation_is_applied() -> None:
    image = Image.new("RGB", (40, 20), (0, 0, 0))
    image.paste((255, 0, 0), (0, 0, 10, 20))  # red on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    pixels = full_size(encode(image, "JPEG", exif=exif, quality=95))
    assert pixels.shape == (40, 20, 3)
    assert pixels[2, 10, 0] > 200 and pixels[37, 10, 0] < 60  # red is now on top


# A 16x8 JPEG with EXIF orientation 6 whose EXIF block, mutated by fuzzing, made Pillow's
# exif_transpose raise struct.error (a 500 before): its broken tags are ignored, as
# browsers ignore them, and the orientation they could read is applied.
MALFORMED_EXIF = base64.b64decode(
    "/9j/4AAQSkZJRgABAQAAAQABAAD/4QBaRXhpZgAATU0AKgAAAAgABAEAAAIAAAAGAAAAPgESAAMAAAABAAYAAAEa"
    "AAUAAAABAAAARAExAAIAAAAFAAAATAAAAABNYWtloQAAAABIAAAAAXNvZnQAAP/bAEMACAYGBwYFCAcHBwkJCAoM"
    "FA0MCwsMGRITDxQdGh8eHRocHCAkLicgIiwjHBwoNyksMDE0NDQfJzk9ODI8LjM0Mv/bAEMBCQkJDAsMGA0NGDIh"
    "HCEyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMv/AABEIAAgAEAMBIgAC"
    "EQEDEQH/xAAfAAABBQEBAQEBAQAAAAAAAAAAAQIDBAUGBwgJCgv/xAC1EAACAQMDAgQDBQUEBAAAAX0BAgMABBEF"
    "EiExQQYTUWEHInEUMoGRoQgjQrHBFVLR8CQzYnKCCQoWFxgZGiUmJygpKjQ1Njc4OTpDREVGR0hJSlNUVVZXWFla"
    "Y2RlZmdoaWpzdHV2d3h5eoOEhYaHiImKkpOUlZaXmJmaoqOkpaanqKmqsrO0tba3uLm6wsPExcbHyMnK0tPU1dbX"
    "2Nna4eLj5OXm5+jp6vHy8/T19vf4+fr/xAAfAQADAQEBAQEBAQEBAAAAAAAAAQIDBAUGBwgJCgv/xAC1EQACAQIE"
    "BAMEBwUEBAABAncAAQIDEQQFITEGEkFRB2FxEyIygQgUQpGhscEJIzNS8BVictEKFiQ04SXxFxgZGiYnKCkqNTY3"
    "ODk6Q0RFRkdISUpTVFVWV1hZWmNkZWZnaGlqc3R1dnd4eXqCg4SFhoeIiYqSk5SVlpeYmZqio6Slpqeoqaqys7S1"
    "tre4ubrCw8TFxsfIycrS09TV1tfY2dri4+Tl5ufo6ery8/T19vf4+fr/2gAMAwEAAhEDEQA/AOCooorwz9UP/9k="
)


def test_malformed_exif_is_read_past(client: TestClient) -> None:
    response = client.post(
        "/classify-regions",
        files={"image": ("x", MALFORMED_EXIF)},
        data={"boxes": "[[0, 0, 4, 4]]"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["image"] == {"width": 8, "height": 16}


@pytest.mark.parametrize("mode", ["proposals", "superpixels"])
@pytest.mark.parametrize("shape", [(1, 20000), (20000, 1)], ids=["1x20000", "20000x1"])
def test_images_one_pixel_thin_are_answered(
    client: TestClient, mode: str, shape: tuple[int, int]
) -> None:
    image = png_bytes(np.random.default_rng(0).integers(0, 256, (*shape, 3), np.uint8))
    response = client.post("/classify-regions", files={"image": ("x", image)}, data={"mode": mode})
    assert response.status_code == 200, response.text
    height, width = shape
    resized = {"width": min(width, 1024), "height": min(height, 1024)}  # max_image_side
    assert response.json()["image"] == {"width": width, "height": height, "resized_to": resized}


def test_a_large_16_bit_image_is_reduced_as_decoded() -> None:
    wide = np.full((2000, 3000), 65535, np.uint16)
    wide[:, :1500] = 257 * 10  # 10 once in 8 bits
    picture = decode_picture(encode(Image.fromarray(wide), "PNG"), 10**7, 1024, 2**30)
    assert (picture.width, picture.height, picture.scale) == (3000, 2000, 1024 / 3000)
    assert picture.pixels.shape == (683, 1024, 3)
    assert picture.pixels[0, 0].tolist() == [10, 10, 10]
    assert picture.pixels[-1, -1].tolist() == [255, 255, 255]


def test_a_large_jpeg_decodes_reduced_and_turned_as_displayed() -> None:
    image = Image.new("RGB", (4000, 2000), (0, 0, 0))
    image.paste((255, 0, 0), (0, 0, 1000, 2000))  # red on the left quarter
    exif = Image.Exif()
    exif[0x0112] = 6  # shown turned a quarter clockwise: red on top
    picture = decode_picture(encode(image, "JPEG", exif=exif, quality=95), 10**7, 1024, 2**30)
    assert (picture.width, picture.height) == (2000, 4000)
    assert picture.pixels.shape == (1024, 512, 3)
    assert picture.pixels[100, 256, 0] > 200 and picture.pixels[900, 256, 0] < 60


def test_decoding_past_the_memory_budget_is_refused_before_decoding() -> None:
    """6300x6300 16-bit grey: Pillow's 2 bytes a pixel, 1 more for the 8-bit copy, float64
    strips of 256 rows, and the 1024x1024 working images at 10 bytes a pixel."""
    data = encode(Image.fromarray(np.zeros((6300, 6300), np.uint16)), "PNG")
    needed = 6300 * 6300 * 3 + 256 * 6300 * 16 + 1024 * 1024 * 10
    with pytest.raises(PayloadTooLarge) as refused:
        decode_picture(data, 10**8, 1024, needed - 1)
    assert refused.value.detail == (
        "decoding this 6300x6300 I;16 image takes about 148 MiB; the limit is 148 MiB"
    )
    assert decode_picture(data, 10**8, 1024, needed).pixels.shape == (1024, 1024, 3)
