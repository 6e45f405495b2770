"""Odd but valid images are answered 200, decoded as a person would see them."""

import io

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from service.imaging import decode_image


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


@pytest.mark.parametrize("name", ODD)
def test_odd_images_are_answered(client: TestClient, name: str) -> None:
    response = client.post(
        "/classify-regions", files={"image": ("x", ODD[name])}, data={"boxes": "[[0, 0, 1, 1]]"}
    )
    assert response.status_code == 200, response.text
    assert len(response.json()["regions"]) == 1


def test_decoded_values() -> None:
    assert decode_image(ODD["16-bit png"], 10**6)[0, 0].tolist() == [255, 255, 255]
    assert decode_image(ODD["rgba png"], 10**6)[0, 0].tolist() == [255, 255, 255]  # on white
    assert decode_image(ODD["la png"], 10**6)[0, 0].tolist() == [127, 127, 127]  # 0 at 50 %
    assert decode_image(ODD["1x1 webp"], 10**6).tolist() == [[[5, 6, 7]]]
    assert decode_image(ODD["animated gif"], 10**6).shape == (24, 32, 3)


def test_exif_orientation_is_applied() -> None:
    image = Image.new("RGB", (40, 20), (0, 0, 0))
    image.paste((255, 0, 0), (0, 0, 10, 20))  # red on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    pixels = decode_image(encode(image, "JPEG", exif=exif, quality=95), 10**6)
    assert pixels.shape == (40, 20, 3)
    assert pixels[2, 10, 0] > 200 and pixels[37, 10, 0] < 60  # red is now on top
