"""One request at the model's door: its image decoded at the working size, its extra inputs
fitted to it, and the mode's rois or superpixels (CPU-bound: call it from a thread). The
service prepares every request by `prepare_request`; bench/ and the evaluation do too."""

import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from service.inference.feed import ModelInput, Scores
from service.inference.model_info import ModelInfo
from service.regions import boxes as box_tools
from service.regions import superpixels
from service.regions.extra_inputs import decode_extra_inputs, fit_to_image
from service.regions.imaging import decode_picture
from service.regions.picture import Picture
from service.regions.proposals import selective_search
from service.regions.request import RegionRequest
from service.settings import Settings


@dataclass(frozen=True)
class Prepared:
    picture: Picture  # the decoded image: its size as displayed, and at the model
    item: ModelInput
    boxes: np.ndarray  # (R, 4) in image pixels, for the answer
    masks: superpixels.SuperpixelMasks  # superpixels mode: box and RLE of each id
    seen: np.ndarray  # superpixels mode: ids that reach the model's grid
    decode_s: float = 0.0
    prepare_s: float = 0.0


def prepare_request(
    info: ModelInfo, settings: Settings, request: RegionRequest, mode: str
) -> Prepared:
    """Pixels and model input of one request, timed."""
    start = time.perf_counter()
    s = settings
    extras = decode_extra_inputs(info, request.extras)
    picture = decode_picture(
        request.image, s.max_image_pixels, info.bound, s.max_decode_mib * 2**20
    )
    decoded = time.perf_counter()
    extras = fit_to_image(info, extras, picture)
    prepared = prepare(info, s, picture, mode, request.boxes, extras)
    return replace(prepared, decode_s=decoded - start, prepare_s=time.perf_counter() - decoded)


def prepare(
    info: ModelInfo,
    settings: Settings,
    picture: Picture,
    mode: str,
    raw_boxes: Any,
    extras: dict[str, np.ndarray] | None = None,
) -> Prepared:
    """The model's rois or superpixels for one decoded image; `extras`: the extra inputs at
    the working size."""
    extras = extras or {}
    width, height, work, scale = picture.width, picture.height, picture.pixels, picture.scale
    no_masks = superpixels.SuperpixelMasks.none()
    empty = np.zeros(0, int)
    if mode == "boxes":
        boxes = box_tools.parse_boxes(raw_boxes, width, height, settings.max_boxes)
        item = ModelInput(work, box_tools.to_rois(boxes, scale), None, extras)
        return Prepared(picture, item, boxes, no_masks, empty)
    if mode == "proposals" and info.proposal_head is not None:  # the model proposes itself
        item = ModelInput(work, np.zeros((0, 4), np.float32), None, extras, propose=True)
        return Prepared(picture, item, np.zeros((0, 4)), no_masks, empty)
    if mode == "proposals":
        s = settings
        found = selective_search(work, s.proposal_side, s.max_proposals, s.min_proposal_side)
        boxes = np.clip(found / scale, 0, [width, height, width, height])
        item = ModelInput(work, box_tools.to_rois(found, 1.0), None, extras)
        return Prepared(picture, item, boxes, no_masks, empty)
    assert info.superpixel is not None, "superpixels mode needs a superpixel head"
    area = settings.superpixel_area or info.superpixel.area
    ids = superpixels.slic_superpixels(
        work, area, info.superpixel.compactness, settings.max_superpixels
    )
    grid = superpixels.feature_grid(ids, info.stride)
    item = ModelInput(work, np.zeros((0, 4), np.float32), grid, extras)
    masks = superpixels.masks(ids, width, height)  # at the image's size, never materialised
    return Prepared(picture, item, np.zeros((0, 4)), masks, np.unique(grid))


def proposal_candidates(
    prepared: Prepared, scores: Scores, min_objectness: float
) -> tuple[np.ndarray, np.ndarray]:
    """Proposals mode's boxes (image pixels) and their class scores, before the proposal
    filter: the model's own proposals of objectness at least `min_objectness` when it has a
    proposal head, else the classical ones."""
    if scores.proposals is None:
        return prepared.boxes, scores.rois
    picture = prepared.picture
    sure = scores.proposals.objectness >= min_objectness
    rois = scores.proposals.rois[sure]
    boxes = box_tools.from_rois(rois, picture.scale, picture.width, picture.height)
    return boxes, scores.proposals.scores[sure]
