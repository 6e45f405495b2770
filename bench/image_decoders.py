"""Image decoders side by side on the front end's scene, each checked pixel for pixel
against Pillow. JPEG: Pillow, OpenCV and simplejpeg (its exact mode: islow DCT, fancy
upsampling). PNG: Pillow, OpenCV (the service's PNG decoder before Wuffs) and Wuffs (the
service's own call), and pyspng when installed (it is not in the lock)."""

import importlib.util
import io
import statistics
import time
from collections.abc import Callable

import cv2
import numpy as np
import simplejpeg
from PIL import Image

from bench.report import table
from service.regions.fast_decode import decode_png

ROUNDS, BLOCK = 20, 5
NO_TURN = cv2.IMREAD_IGNORE_ORIENTATION
Decoders = dict[str, Callable[[], np.ndarray]]


def jpeg_variants(png: bytes) -> dict[str, bytes]:
    scene = Image.open(io.BytesIO(png)).convert("RGB")
    return {
        "512x512 q90 4:2:0": _saved(scene, "JPEG", quality=90),
        "512x512 q95 4:4:4": _saved(scene, "JPEG", quality=95, subsampling=0),
        "512x512 q80 progressive": _saved(scene, "JPEG", quality=80, progressive=True),
        "512x512 q90 grey": _saved(scene.convert("L"), "JPEG", quality=90),
        "1024x1024 q90 4:2:0": _saved(scene.resize((1024, 1024)), "JPEG", quality=90),
    }


def png_variants(png: bytes) -> dict[str, bytes]:
    scene = Image.open(io.BytesIO(png)).convert("RGB")
    return {
        f"512x512 scene ({len(png) // 1000} KB)": png,
        "1024x1024 scene (resized)": _saved(scene.resize((1024, 1024)), "PNG"),
        "512x512 grey": _saved(scene.convert("L"), "PNG"),
        "1280x800 flat (screenshot-like)": _saved(_screenshot(1280, 800), "PNG"),
    }


def jpeg_decoders(data: bytes) -> Decoders:
    grey = Image.open(io.BytesIO(data)).mode == "L"
    flag = (cv2.IMREAD_GRAYSCALE if grey else cv2.IMREAD_COLOR_RGB) | NO_TURN
    colour = "GRAY" if grey else "RGB"
    return {
        "Pillow": lambda: np.asarray(Image.open(io.BytesIO(data))),
        "OpenCV": lambda: np.asarray(cv2.imdecode(np.frombuffer(data, np.uint8), flag)),
        "simplejpeg": lambda: _simplejpeg(data, colour),
    }


def png_decoders(data: bytes) -> Decoders:
    image = Image.open(io.BytesIO(data))
    mode, side = image.mode, max(image.size)
    decoders: Decoders = {
        "Pillow": lambda: np.asarray(Image.open(io.BytesIO(data))),
        "OpenCV": lambda: _opencv_png(data, mode),
        "Wuffs": lambda: _present(decode_png(data, mode, side), "Wuffs"),
    }
    if importlib.util.find_spec("pyspng") is not None:
        import pyspng

        decoders["pyspng"] = lambda: np.squeeze(pyspng.load(data))
    return decoders


def _simplejpeg(data: bytes, colour: str) -> np.ndarray:
    """(h, w, 3) RGB, or (h, w) grey as Pillow gives it ((h, w, 1) from simplejpeg)."""
    pixels = simplejpeg.decode_jpeg(data, colorspace=colour, fastdct=False, fastupsample=False)
    return pixels[:, :, 0] if colour == "GRAY" else pixels


def _opencv_png(data: bytes, mode: str) -> np.ndarray:
    """libpng's rows as stored, colour swapped to RGB: the service's PNG path before Wuffs."""
    stored = _present(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED), "OpenCV")
    return cv2.cvtColor(stored, cv2.COLOR_BGR2RGB) if mode == "RGB" else stored


def _present(pixels: np.ndarray | None, decoder: str) -> np.ndarray:
    assert pixels is not None, f"{decoder} refused a file Pillow decodes"
    return pixels


def _saved(image: Image.Image, fmt: str, **save: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **save)
    return out.getvalue()


def _screenshot(width: int, height: int) -> Image.Image:
    """Flat panels, one-pixel rules and short dark dashes like lines of text."""
    pixels = np.full((height, width, 3), 246, np.uint8)
    pixels[:48] = (40, 70, 130)
    pixels[:, : width // 5] = (228, 230, 235)
    pixels[48::24, width // 5 :] = 210
    rng = np.random.default_rng(0)
    for row in range(60, height - 10, 24):
        for start in rng.integers(width // 5 + 10, width - 60, 12):
            pixels[row : row + 9, start : start + rng.integers(8, 50)] = 30
    return Image.fromarray(pixels)


def _medians(fns: Decoders) -> dict[str, float]:
    """Median CPU ms of each decoder, taking turns in blocks of BLOCK decodes."""
    samples: dict[str, list[float]] = {d: [] for d in fns}
    for _ in range(ROUNDS):
        for decoder, fn in fns.items():
            for _ in range(BLOCK):
                start = time.process_time()
                fn()
                samples[decoder].append(time.process_time() - start)
    return {d: statistics.median(s) * 1e3 for d, s in samples.items()}


def _table(kind: str, variants: dict[str, bytes], decoders: Callable[[bytes], Decoders]) -> str:
    rows, names = [], []
    for name, data in variants.items():
        fns = decoders(data)
        reference = fns["Pillow"]()
        for decoder, fn in fns.items():
            assert np.array_equal(fn(), reference), f"{decoder} differs from Pillow on {name}"
        ms, names = _medians(fns), list(fns)
        ratios = [f"{ms[d] / ms['Pillow']:.2f}x" for d in names[1:]]
        rows.append([name, *(f"{ms[d]:.2f}" for d in names), *ratios])
    header = [kind, *(f"{d} ms CPU" for d in names), *(f"{d} / Pillow" for d in names[1:])]
    note = (
        f"{kind} decoders, median CPU ms of {ROUNDS * BLOCK} decodes each, taking turns in "
        f"blocks of {BLOCK}; every one gives Pillow's pixels on every file (checked)."
    )
    return f"{note}\n\n{table(header, rows)}"


def measure(png: bytes) -> str:
    """The JPEG and PNG tables, from the front end's 512x512 scene (a PNG)."""
    jpeg = _table("JPEG", jpeg_variants(png), jpeg_decoders)
    return f"{jpeg}\n\n{_table('PNG', png_variants(png), png_decoders)}"
