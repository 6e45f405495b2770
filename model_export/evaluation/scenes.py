"""Evaluation scenes, drawn apart from the training generator (model_export/dataset/): held-out
UCI digits upscaled with other interpolations, bolder, thinner or blurred strokes, ink of a
contrasting colour, over flat colours and gradients (plain) or blurred noise with outlined
rectangles, lines and ellipses (cluttered). Each digit fills a square cell, as a person or
another detector would draw its box; its tight box is that of its ink."""

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

from model_export.dataset.digits import DigitPool

Rng = np.random.Generator
INTERPOLATIONS = {
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
    "nearest": Image.Resampling.NEAREST,
}
RENDERINGS = (*INTERPOLATIONS, "bold", "thin", "blurred")


@dataclass(frozen=True)
class EvalDigit:
    label: int
    rendering: str
    cell: np.ndarray  # (4,) the square cell [x1, y1, x2, y2], exclusive ends
    tight: np.ndarray  # (4,) the box of the ink
    ink: np.ndarray  # (H, W) bool over the whole scene


@dataclass(frozen=True)
class EvalScene:
    image: np.ndarray  # (H, W, 3) uint8
    digits: list[EvalDigit]


def ink_alpha(glyph: np.ndarray, side: int, rendering: str) -> np.ndarray:
    """An 8x8 glyph in [0, 1] as (side, side) ink coverage in [0, 1]."""
    source = Image.fromarray(np.rint(glyph * 255).astype(np.uint8))
    resample = INTERPOLATIONS.get(rendering, Image.Resampling.BICUBIC)
    alpha = np.asarray(source.resize((side, side), resample), np.float32) / 255.0
    stroke = max(side // 16, 1) * 2 + 1
    if rendering == "bold":
        alpha = ndimage.grey_dilation(alpha, size=stroke)
    elif rendering == "thin":
        alpha = ndimage.grey_erosion(alpha, size=stroke)
    elif rendering == "blurred":
        alpha = ndimage.gaussian_filter(alpha, side / 40)
    return np.clip(alpha / max(float(alpha.max()), 1e-6), 0.0, 1.0)


def plain_background(rng: Rng, height: int, width: int) -> np.ndarray:
    first, second = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    if rng.random() < 0.4:
        return np.broadcast_to(first, (height, width, 3)).astype(np.float32)
    y, x = np.mgrid[0:height, 0:width] / max(height, width)
    angle = rng.uniform(0, 2 * np.pi)
    t = x * np.cos(angle) + y * np.sin(angle)
    t = (t - t.min()) / max(float(np.ptp(t)), 1e-6)
    return (first + t[..., None] * (second - first)).astype(np.float32)


def cluttered_background(rng: Rng, height: int, width: int) -> np.ndarray:
    """Blurred colour noise over a gradient, with outlined rectangles, lines and ellipses."""
    noise = rng.uniform(0, 255, (height, width, 3))
    noise = ndimage.gaussian_filter(noise, (rng.uniform(2, 8),) * 2 + (0,))
    noise = (noise - noise.mean()) * rng.uniform(2, 5) + 128
    base = 0.5 * plain_background(rng, height, width) + 0.5 * np.clip(noise, 0, 255)
    canvas = Image.fromarray(base.astype(np.uint8))
    draw = ImageDraw.Draw(canvas)
    for _ in range(int(rng.integers(6, 10 + height * width // 15000))):
        x0, x1 = sorted(rng.integers(0, width, 2).tolist())
        y0, y1 = sorted(rng.integers(0, height, 2).tolist())
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        line = int(rng.integers(1, 4))
        kind = rng.integers(4)
        if kind < 2:
            draw.rectangle([x0, y0, x1, y1], outline=colour, width=line)
        elif kind == 2:
            draw.line([(x0, y0), (x1, y1)], fill=colour, width=line)
        else:
            draw.ellipse([x0, y0, x1, y1], outline=colour, width=line)
    return np.asarray(canvas, np.float32)


def ink_colour(rng: Rng, under: np.ndarray) -> np.ndarray:
    """A random colour far (RGB distance 150) from the mean colour under the cell."""
    mean = under.reshape(-1, 3).mean(axis=0)
    for _ in range(50):
        colour = rng.uniform(0, 255, 3)
        if np.linalg.norm(colour - mean) >= 150:
            return colour
    return np.where(mean > 127, 0.0, 255.0)


def free_cells(rng: Rng, count: int, sides: tuple[int, int], height: int, width: int) -> list:
    """Up to `count` square cells (x, y, side) apart from each other by a quarter side."""
    cells: list[tuple[int, int, int]] = []
    for _ in range(count * 40):
        if len(cells) == count:
            break
        side = int(rng.integers(sides[0], min(sides[1], height - 8, width - 8) + 1))
        x, y = int(rng.integers(4, width - side - 3)), int(rng.integers(4, height - side - 3))
        if all(
            x + side + s // 4 <= cx or cx + s + s // 4 <= x or y + side + s // 4 <= cy
            or cy + s + s // 4 <= y
            for cx, cy, s in cells
        ):  # fmt: skip
            cells.append((x, y, side))
    return cells


def draw_scene(
    rng: Rng,
    pool: DigitPool,
    cluttered: bool,
    digits: int = 6,
    sides: tuple[int, int] = (24, 96),
    size: tuple[int, int] = (256, 640),
) -> EvalScene:
    """One scene of up to `digits` digits of `pool`, cells `sides` px, the scene `size` px."""
    height, width = (int(v) for v in rng.integers(size[0], size[1] + 1, 2))
    background = cluttered_background if cluttered else plain_background
    canvas = background(rng, height, width)
    placed = []
    for x, y, side in free_cells(rng, digits, sides, height, width):
        index = int(rng.integers(len(pool.labels)))
        rendering = str(rng.choice(RENDERINGS))
        alpha = ink_alpha(pool.glyphs[index], side, rendering)
        alpha *= rng.uniform(0.75, 1.0)  # ink not always at full strength
        region = canvas[y : y + side, x : x + side]
        colour = ink_colour(rng, region)
        region[:] = region * (1 - alpha[..., None]) + colour * alpha[..., None]
        ink = np.zeros((height, width), bool)
        ink[y : y + side, x : x + side] = alpha >= 0.5
        rows, cols = np.nonzero(ink)
        tight = np.array([cols.min(), rows.min(), cols.max() + 1, rows.max() + 1], float)
        cell = np.array([x, y, x + side, y + side], float)
        placed.append(EvalDigit(int(pool.labels[index]), rendering, cell, tight, ink))
    return EvalScene(np.clip(np.rint(canvas), 0, 255).astype(np.uint8), placed)


def proposals_scene(rng: Rng, pool: DigitPool, cluttered: bool) -> EvalScene:
    """A scene of proposals recall: 4 digits of 40 to 90 px, the scene 300 to 512 px."""
    return draw_scene(rng, pool, cluttered, digits=4, sides=(40, 90), size=(300, 512))
