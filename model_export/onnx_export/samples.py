"""Sample inputs made from the model's own signature, and `<stem>.samples.npz` (the contract).

Every sample obeys the non-empty rule: at least one roi per batch, and a superpixel grid whose
largest id is >= 0.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import keras
import numpy as np
import tensorflow as tf

from model_export.layers import SuperpixelPooling
from model_export.onnx_export.convert import Traced, call_model
from model_export.onnx_export.errors import ExportError
from model_export.onnx_export.markers import calls_replaced
from model_export.onnx_export.roles import Roles
from regionserve_contract.files import sample_key
from regionserve_contract.preprocessing import Preprocessing

Feed = dict[str, np.ndarray]
# (batch, extra rows, extra columns in strides): batches of 1 and 2, two image shapes.
SAMPLE_SHAPES = ((1, 0, 1), (2, 1, 0), (1, 0, 0))
ROIS_PER_IMAGE = 3
SUPERPIXEL_IDS = 8
EXTRA_SCALES = (1, 2, 4, 8, 16, 32)  # tried for the spatial size of extra inputs


def _random_values(rng: np.random.Generator, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    if dtype == "bool":
        return rng.random(shape) < 0.5
    if dtype == "uint8":
        return rng.integers(0, 256, shape).astype(np.uint8)
    if np.issubdtype(np.dtype(dtype), np.integer):
        return rng.integers(0, 4, shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def _rois(rng: np.random.Generator, batch: int, height: int, width: int, rank: int) -> np.ndarray:
    """Boxes inside the image, inclusive ends: (B * n, 5) indexed or (B, n, 4) batched."""
    x1 = rng.integers(0, width - 1, (batch, ROIS_PER_IMAGE))
    y1 = rng.integers(0, height - 1, (batch, ROIS_PER_IMAGE))
    x2 = rng.integers(x1 + 1, width)
    y2 = rng.integers(y1 + 1, height)
    boxes = np.stack([x1, y1, x2, y2], axis=-1).astype(np.float32)
    if rank == 3:
        return boxes
    image = np.repeat(np.arange(batch), ROIS_PER_IMAGE)[:, None].astype(np.float32)
    return np.concatenate([image, boxes.reshape(-1, 4)], axis=1)


def _superpixel_grids(rng: np.random.Generator, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    ids = rng.integers(-1, SUPERPIXEL_IDS, shape)
    ids[:, 0, 0] = 0  # the largest id is >= 0
    return ids.astype(dtype)


@contextmanager
def _superpixel_grid_probe(model: keras.Model) -> Iterator[list[tuple[int, int]]]:
    """Within the block SuperpixelPooling records the (H, W) of its features and ignores its ids,
    so one call finds the grid size the superpixel input must have."""
    grids: list[tuple[int, int]] = []

    def make_call(_: keras.layers.Layer) -> Callable:
        def call(inputs: list[tf.Tensor]) -> tf.Tensor:
            grids.append((int(inputs[0].shape[1]), int(inputs[0].shape[2])))
            return tf.zeros_like(inputs[0][:, :1, 0, :])  # (B, 1, C)

        return call

    layers = [la for la in model._flatten_layers() if isinstance(la, SuperpixelPooling)]
    with calls_replaced(layers, make_call):
        yield grids


def _extra_shape(spec: tf.TensorSpec, batch: int, height: int, width: int) -> tuple[int, ...]:
    """Batch for a None first axis, the (scaled) image size for None spatial axes of a rank-4
    input, 2 for any other None axis."""
    dims = list(spec.shape)
    if dims and dims[0] is None:
        dims[0] = batch
    if len(dims) == 4:
        dims[1] = height if dims[1] is None else dims[1]
        dims[2] = width if dims[2] is None else dims[2]
    return tuple(2 if d is None else int(d) for d in dims)


def _fit_extra_inputs(
    model: keras.Model, traced: Traced, roles: Roles, feed: Feed, rng: np.random.Generator
) -> tuple[Feed, tuple[int, int] | None]:
    """Extra inputs the model accepts beside `feed`, and the superpixel grid size it needs."""
    specs = {s.name: s for s in traced.signature}
    batch, height, width = feed[roles.image].shape[:3]
    failure = ""
    for scale in EXTRA_SCALES:
        trial = dict(feed)
        for name in roles.extra:
            shape = _extra_shape(specs[name], batch, -(-height // scale), -(-width // scale))
            trial[name] = _random_values(rng, shape, specs[name].dtype.name)
        if roles.superpixels is not None:
            trial[roles.superpixels] = np.zeros((batch, 1, 1), specs[roles.superpixels].dtype.name)
        try:
            with _superpixel_grid_probe(model) as grids:
                call_model(model, [trial[s.name] for s in traced.signature])
        except (tf.errors.InvalidArgumentError, ValueError) as error:
            failure = str(error).strip().splitlines()[0]
            continue
        return trial, (grids[0] if grids else None)
    raise ExportError(f"the model rejects generated sample inputs ({failure}): give --samples")


def image_size(spec: tf.TensorSpec, stride: int, more_rows: int, more_cols: int) -> tuple:
    base = stride * max(4, -(-64 // stride))
    height, width = spec.shape[1], spec.shape[2]
    return (height or base + more_rows * stride, width or base + more_cols * stride)


def make_samples(
    model: keras.Model, traced: Traced, roles: Roles, prep: Preprocessing, stride: int
) -> list[Feed]:
    """Random inputs of the model's signature: image, valid rois, superpixel grids, extras."""
    rng = np.random.default_rng(0)
    specs = {s.name: s for s in traced.signature}
    feeds = []
    for batch, more_rows, more_cols in SAMPLE_SHAPES:
        height, width = image_size(specs[roles.image], stride, more_rows, more_cols)
        pixels = rng.integers(0, 256, (batch, height, width, 3))
        uint8 = specs[roles.image].dtype == tf.uint8
        feed = {roles.image: pixels.astype(np.uint8) if uint8 else prep.apply(pixels)}
        if roles.rois is not None:
            rank = specs[roles.rois].shape.rank
            rois = _rois(rng, batch, height, width, rank)
            feed[roles.rois] = rois.astype(specs[roles.rois].dtype.name)
        feed, grid = _fit_extra_inputs(model, traced, roles, feed, rng)
        if roles.superpixels is not None and grid is not None:
            dtype = specs[roles.superpixels].dtype.name
            feed[roles.superpixels] = _superpixel_grids(rng, (batch, *grid), dtype)
        feeds.append({s.name: feed[s.name] for s in traced.signature})
    return feeds


def keras_outputs(model: keras.Model, feed: Feed) -> dict[str, np.ndarray]:
    outputs = call_model(model, [feed[t.name] for t in model.inputs])
    return {name: np.asarray(value) for name, value in outputs.items()}


def write_samples(file: IO[bytes], feeds: list[Feed], outputs: list[dict[str, Any]]) -> None:
    arrays: dict[str, Any] = {}
    for k, (feed, out) in enumerate(zip(feeds, outputs, strict=True)):
        arrays.update({sample_key(k, "input", name): value for name, value in feed.items()})
        arrays.update({sample_key(k, "output", name): value for name, value in out.items()})
    np.savez(file, **arrays)


def read_samples(path: Path) -> list[tuple[Feed, dict[str, np.ndarray]]]:
    """The samples of a `.samples.npz` file (its outputs may be absent: a user's inputs)."""
    with np.load(path) as archive:
        samples: dict[int, tuple[Feed, dict[str, np.ndarray]]] = {}
        for key in archive.files:
            sample, part, name = key.split("/", 2)
            entry = samples.setdefault(int(sample.removeprefix("sample")), ({}, {}))
            entry[0 if part == "input" else 1][name] = archive[key]
    return [samples[k] for k in sorted(samples)]
