"""JPEG decoders side by side on the front end's scene: Pillow, OpenCV and simplejpeg (its
exact mode: islow DCT, fancy upsampling), each checked pixel for pixel against Pillow."""

import io
import statistics
import time
from collections.abc import Callable

import cv2
import numpy as np
import simplejpeg
from PIL import Image

from bench.report import table

ROUNDS, BLOCK = 20, 5
NO_TURN = cv2.IMREAD_IGNORE_ORIENTATION


def variants(png: bytes) -> dict[str, bytes]:
    scene = Image.open(io.BytesIO(png)).convert("RGB")

    def jpeg(image: Image.Image, **save: object) -> bytes:
        out = io.BytesIO()
        image.save(out, format="JPEG", **save)
        return out.getvalue()

    return {
        "512x512 q90 4:2:0": jpeg(scene, quality=90),
        "512x512 q95 4:4:4": jpeg(scene, quality=95, subsampling=0),
        "512x512 q80 progressive": jpeg(scene, quality=80, progressive=True),
        "512x512 q90 grey": jpeg(scene.convert("L"), quality=90),
        "1024x1024 q90 4:2:0": jpeg(scene.resize((1024, 1024)), quality=90),
    }


def decoders(data: bytes) -> dict[str, Callable[[], np.ndarray]]:
    grey = Image.open(io.BytesIO(data)).mode == "L"
    flag = (cv2.IMREAD_GRAYSCALE if grey else cv2.IMREAD_COLOR_RGB) | NO_TURN
    colour = "GRAY" if grey else "RGB"
    return {
        "Pillow": lambda: np.asarray(Image.open(io.BytesIO(data))),
        "OpenCV": lambda: np.asarray(cv2.imdecode(np.frombuffer(data, np.uint8), flag)),
        "simplejpeg": lambda: _simplejpeg(data, colour),
    }


def _simplejpeg(data: bytes, colour: str) -> np.ndarray:
    """(h, w, 3) RGB, or (h, w) grey as Pillow gives it ((h, w, 1) from simplejpeg)."""
    pixels = simplejpeg.decode_jpeg(data, colorspace=colour, fastdct=False, fastupsample=False)
    return pixels[:, :, 0] if colour == "GRAY" else pixels


def measure(png: bytes) -> str:
    rows = []
    for name, data in variants(png).items():
        fns = decoders(data)
        reference = fns["Pillow"]()
        for decoder, fn in fns.items():
            assert np.array_equal(fn(), reference), f"{decoder} differs from Pillow on {name}"
        samples: dict[str, list[float]] = {d: [] for d in fns}
        for _ in range(ROUNDS):
            for decoder, fn in fns.items():
                for _ in range(BLOCK):
                    start = time.process_time()
                    fn()
                    samples[decoder].append(time.process_time() - start)
        ms = {d: statistics.median(s) * 1e3 for d, s in samples.items()}
        rows.append(
            [
                name,
                *(f"{v:.2f}" for v in ms.values()),
                f"{ms['OpenCV'] / ms['Pillow']:.2f}x",
                f"{ms['simplejpeg'] / ms['Pillow']:.2f}x",
            ]
        )
    header = ["JPEG", "Pillow ms CPU", "OpenCV ms CPU", "simplejpeg ms CPU"]
    header += ["OpenCV / Pillow", "simplejpeg / Pillow"]
    note = (
        f"JPEG decoders, median CPU ms of {ROUNDS * BLOCK} decodes each, taking turns in blocks "
        f"of {BLOCK}; all three give Pillow's pixels on every file (checked)."
    )
    return f"{note}\n\n{table(header, rows)}"
