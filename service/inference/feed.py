"""A batch of prepared images -> the model's feed, by the roles, formats and dtypes its file
declares; and the scores of its outputs -> each image's own.

No feed carries an empty tensor: a batch that gives one head nothing to do gets one
placeholder roi or superpixel, whose scores are dropped (see service/inference/predictor.py).
"""

from dataclasses import dataclass, field

import numpy as np

from service.inference.model_info import ModelInfo
from service.inference.model_inputs import ExtraInput
from service.inference.proposal_head import HeadProposals


@dataclass(frozen=True)
class ModelInput:
    """One image ready for the model: stride-aligned sizes are handled when batching."""

    pixels: np.ndarray  # (H, W, 3) uint8, within the model's bound (ModelInfo.bound)
    rois: np.ndarray  # (R, 4) float32 [x1, y1, x2, y2] in pixels, inclusive ends
    superpixels: np.ndarray | None  # (ceil(H / stride), ceil(W / stride)) int32 ids, or None
    extras: dict[str, np.ndarray] = field(default_factory=dict)  # checked, at the working size
    propose: bool = False  # proposals mode on a model with a proposal head: fetch its proposals


@dataclass(frozen=True)
class Scores:
    rois: np.ndarray  # (R, K)
    superpixels: np.ndarray  # (S, K)
    proposals: HeadProposals | None = None  # the model's own proposals, when fetched


def build_feed(info: ModelInfo, batch: list[ModelInput]) -> dict[str, np.ndarray]:
    """Images padded at the bottom and right: to the model's fixed sides, the free ones to a
    multiple of the stride; every other input sized to match."""
    stride = info.stride
    fixed_height, fixed_width = info.image_size
    height = fixed_height or _round_up(max(p.pixels.shape[0] for p in batch), stride)
    width = fixed_width or _round_up(max(p.pixels.shape[1] for p in batch), stride)
    feed = {info.inputs["image"]: _images(info, batch, height, width)}
    if "rois" in info.inputs:
        name = info.inputs["rois"]
        indexed = info.rois_format == "indexed"
        rois = _indexed_rois(info, batch) if indexed else _batched_rois(info, batch)
        feed[name] = rois.astype(info.input_dtypes.get(name, np.float32))
    if "superpixels" in info.inputs:
        name = info.inputs["superpixels"]
        grids = _grids(batch, *_grid_size(info, name, height, width))
        feed[name] = grids.astype(info.input_dtypes.get(name, np.int32))
    for extra in info.extra_inputs:
        feed[extra.name] = _extra(extra, batch, height, width)
    return feed


def wanted_heads(info: ModelInfo, batch: list[ModelInput]) -> frozenset[str]:
    """The heads whose scores the batch needs: superpixels for an item with a grid, rois for
    one with rois or without a grid (boxes and proposals modes, even with no box found)."""
    heads = set()
    for item in batch:
        if item.superpixels is not None:
            heads.add("superpixels")
        if item.superpixels is None or len(item.rois):
            heads.add("rois")
    return frozenset(heads & set(info.outputs))


def split_scores(
    info: ModelInfo, batch: list[ModelInput], outputs: dict[str, np.ndarray]
) -> list[Scores]:
    """Each image's scores from the outputs by head, placeholders and padding dropped."""
    none = np.zeros((0, len(info.classes)), np.float32)
    counts = [len(p.rois) for p in batch]
    if "rois" not in outputs:
        per_roi = [none] * len(batch)
    elif info.rois_format == "indexed":
        per_roi = np.split(outputs["rois"][: sum(counts)], np.cumsum(counts)[:-1])
    else:  # (B, N, K): image i's first counts[i] rows are its own
        per_roi = [outputs["rois"][i, :n] for i, n in enumerate(counts)]
    per_superpixel = [
        outputs["superpixels"][i, : _superpixel_count(p)] if "superpixels" in outputs else none
        for i, p in enumerate(batch)
    ]
    return [Scores(r, s) for r, s in zip(per_roi, per_superpixel, strict=True)]


def shared_runs(info: ModelInfo, batch: list[ModelInput]) -> list[list[int]]:
    """The items that can share one run: extra inputs without a batch axis equal, those of
    any size the same size (image-sized ones are padded like the image)."""
    runs: dict[tuple[object, ...], list[int]] = {}
    for i, item in enumerate(batch):
        key = tuple(_run_key(extra, item.extras[extra.name]) for extra in info.extra_inputs)
        runs.setdefault(key, []).append(i)
    return list(runs.values())


def _run_key(extra: ExtraInput, value: np.ndarray) -> object:
    if not extra.batched:
        return value.shape, value.tobytes()
    return value.shape[3:] if extra.divisor is not None else value.shape


def _images(info: ModelInfo, batch: list[ModelInput], height: int, width: int) -> np.ndarray:
    images = np.full((len(batch), height, width, 3), info.pad_value, np.uint8)
    for i, item in enumerate(batch):
        h, w = item.pixels.shape[:2]
        images[i, :h, :w] = item.pixels
    return images if info.preprocessing is None else info.preprocessing.apply(images)


def _placeholder_box(info: ModelInfo) -> list[float]:
    """The first image's top-left feature cell."""
    return [0.0, 0.0, info.stride - 1.0, info.stride - 1.0]


def _indexed_rois(info: ModelInfo, batch: list[ModelInput]) -> np.ndarray:
    """(R, 5) rows [batch_index, x1, y1, x2, y2]."""
    counts = [len(p.rois) for p in batch]
    index = np.repeat(np.arange(len(batch), dtype=np.float32), counts)[:, None]
    rois = np.concatenate([index, np.concatenate([p.rois for p in batch])], axis=1)
    if not len(rois):
        return np.array([[0.0, *_placeholder_box(info)]], np.float32)
    return rois


def _batched_rois(info: ModelInfo, batch: list[ModelInput]) -> np.ndarray:
    """(B, N, 4): each image's rois, padded to the batch's most with placeholder boxes."""
    most = max(1, *(len(p.rois) for p in batch))
    rois = np.tile(np.array(_placeholder_box(info), np.float32), (len(batch), most, 1))
    for i, item in enumerate(batch):
        rois[i, : len(item.rois)] = item.rois
    return rois


def _grid_size(info: ModelInfo, name: str, height: int, width: int) -> tuple[int, int]:
    """The superpixel input's fixed sides, else one cell per stride of the padded image."""
    dims = info.input_shapes.get(name, ())
    rows, cols = (dims[1], dims[2]) if len(dims) == 3 else (None, None)  # (B, H, W) ids
    return rows or -(-height // info.stride), cols or -(-width // info.stride)


def _grids(batch: list[ModelInput], height: int, width: int) -> np.ndarray:
    grids = np.full((len(batch), height, width), -1, np.int32)
    for i, item in enumerate(batch):
        if item.superpixels is not None:
            gh, gw = item.superpixels.shape
            grids[i, :gh, :gw] = item.superpixels
    if grids.max() < 0:  # placeholder superpixel: one cell of the first image
        grids[0, 0, 0] = 0
    return grids


def _extra(extra: ExtraInput, batch: list[ModelInput], height: int, width: int) -> np.ndarray:
    values = [item.extras[extra.name] for item in batch]
    if not extra.batched:  # one value for the run (see shared_runs)
        return values[0]
    if extra.divisor is None:
        return np.concatenate(values)
    rows, cols = extra.fixed_size or extra.spatial_size(height, width)
    stacked = np.zeros((len(batch), rows, cols, *values[0].shape[3:]), extra.dtype)
    for i, value in enumerate(values):  # zeros beyond each image, as its pixels are padded
        stacked[i, : value.shape[1], : value.shape[2]] = value[0]
    return stacked


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def _superpixel_count(item: ModelInput) -> int:
    return 0 if item.superpixels is None else int(item.superpixels.max(initial=-1)) + 1
