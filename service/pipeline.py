"""decode -> prepare (per mode) -> micro-batched inference -> regions. No HTTP in here."""

import time
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
from starlette.concurrency import run_in_threadpool

from service import boxes as box_tools
from service import superpixels
from service.batching import MicroBatcher, RunBatch
from service.errors import InvalidValue
from service.extra_inputs import decode_extra_inputs, fit_to_image
from service.imaging import decode_picture
from service.model_info import ModelInfo
from service.predictor import PreparedImage, Scores
from service.proposals import selective_search
from service.regions import ProposalFilter, box_regions, proposal_regions, superpixel_regions
from service.settings import Settings
from service.working_image import Picture, working_picture

MODES = ("boxes", "proposals", "superpixels")  # the API's; a model offers those its heads allow


@dataclass(frozen=True)
class RegionRequest:
    image: bytes
    boxes: Any | None  # JSON-decoded, validated once the image size is known
    top_k: int
    mode: str | None
    extras: dict[str, Any] = field(default_factory=dict)  # raw .npy by input name


@dataclass(frozen=True)
class Prepared:
    item: PreparedImage
    boxes: np.ndarray  # (R, 4) in image pixels, for the response
    masks: list[tuple[list[float], dict]]  # superpixels mode: (box, RLE) per id
    seen: np.ndarray  # superpixels mode: ids that reach the model's grid


def choose_mode(request: RegionRequest, top_k_limit: int, modes: tuple[str, ...]) -> str:
    """The request's mode, among those the model's heads offer; by default boxes when
    boxes are given, else proposals (superpixels for a model without a RoI head)."""
    unboxed = "proposals" if "proposals" in modes else modes[-1]
    mode = request.mode or ("boxes" if request.boxes is not None else unboxed)
    if mode not in modes:
        raise InvalidValue(f"mode must be one of this model's modes {list(modes)}, got {mode!r}")
    if mode == "boxes" and request.boxes is None:
        raise InvalidValue("mode 'boxes' needs boxes")
    if mode != "boxes" and request.boxes is not None:
        raise InvalidValue(f"boxes are only used in mode 'boxes', not {mode!r}")
    if not 1 <= request.top_k <= top_k_limit:
        raise InvalidValue(f"top_k must be between 1 and {top_k_limit}, got {request.top_k}")
    return mode


@dataclass(frozen=True)
class Decoded:
    width: int
    height: int
    resized_to: dict[str, int] | None  # the size the model saw, when the image was shrunk
    prepared: Prepared
    decode_s: float
    prepare_s: float


class Pipeline:
    def __init__(self, info: ModelInfo, batcher: MicroBatcher, settings: Settings) -> None:
        self.info, self.batcher, self.settings = info, batcher, settings
        self.rule = proposal_filter(settings)

    async def classify(self, request: RegionRequest) -> dict[str, Any]:
        start = time.perf_counter()
        top_k_limit = min(self.settings.max_top_k, len(self.info.classes))
        mode = choose_mode(request, top_k_limit, self.info.modes)
        timeout_s = self.settings.request_timeout_s
        if self.batcher.max_batch_size == 1:  # nothing to batch: one trip to a thread
            decoded, scores = await self.batcher.run_alone(
                partial(self.decode_prepare_and_run, request, mode), timeout_s
            )
        else:  # decode in parallel, then batch with other requests' images
            decoded = await run_in_threadpool(self.decode_and_prepare, request, mode)
            scores = await self.batcher.submit(decoded.prepared.item, timeout_s)
        inferred = time.perf_counter()
        prepared = decoded.prepared
        if mode == "boxes":
            found = box_regions(self.info, prepared.boxes, scores.rois, request.top_k)
        elif mode == "proposals":
            found = proposal_regions(
                self.info, prepared.boxes, scores.rois, request.top_k, self.rule
            )
        else:
            masks = [prepared.masks[s] for s in prepared.seen]
            found = superpixel_regions(
                self.info, masks, scores.superpixels[prepared.seen], request.top_k
            )
        image: dict[str, Any] = {"width": decoded.width, "height": decoded.height}
        if decoded.resized_to is not None:  # never silently (service/working_image.py)
            image["resized_to"] = decoded.resized_to
        return {
            "model": {"name": self.info.name, "version": self.info.version},
            "image": image,
            "mode": mode,
            "regions": found,
            "timing_ms": {
                "decode": _ms(decoded.decode_s),
                "prepare": _ms(decoded.prepare_s),
                "inference": _ms(inferred - start - decoded.decode_s - decoded.prepare_s),
                "total": _ms(time.perf_counter() - start),
            },
        }

    def decode_and_prepare(self, request: RegionRequest, mode: str) -> Decoded:
        """Pixels and model input of one request (CPU-bound: call it from a thread)."""
        start = time.perf_counter()
        s = self.settings
        extras = decode_extra_inputs(self.info, request.extras)
        picture = decode_picture(
            request.image, s.max_image_pixels, self.info.bound, s.max_decode_mib * 2**20
        )
        decoded = time.perf_counter()
        extras = fit_to_image(self.info, extras, picture)
        prepared = prepare_picture(self.info, s, picture, mode, request.boxes, extras)
        return Decoded(
            picture.width,
            picture.height,
            picture.resized_to,
            prepared,
            decoded - start,
            time.perf_counter() - decoded,
        )

    def decode_prepare_and_run(
        self, request: RegionRequest, mode: str, run: RunBatch
    ) -> tuple[Decoded, Scores]:
        decoded = self.decode_and_prepare(request, mode)
        return decoded, run([decoded.prepared.item])[0]


def prepare(
    info: ModelInfo, settings: Settings, pixels: np.ndarray, mode: str, raw_boxes: Any
) -> Prepared:
    """Working image and the model's rois or superpixels for one request (CPU-bound), for
    a model without extra inputs."""
    picture = working_picture(pixels, info.bound)
    return prepare_picture(info, settings, picture, mode, raw_boxes)


def prepare_picture(
    info: ModelInfo,
    settings: Settings,
    picture: Picture,
    mode: str,
    raw_boxes: Any,
    extras: dict[str, np.ndarray] | None = None,
) -> Prepared:
    """The model's rois or superpixels for one decoded image (CPU-bound); `extras`: the
    extra inputs at the working size."""
    extras = extras or {}
    width, height, work, scale = picture.width, picture.height, picture.pixels, picture.scale
    no_masks: list[tuple[list[float], dict]] = []
    empty = np.zeros(0, int)
    if mode == "boxes":
        boxes = box_tools.parse_boxes(raw_boxes, width, height, settings.max_boxes)
        item = PreparedImage(work, box_tools.to_rois(boxes, scale), None, extras)
        return Prepared(item, boxes, no_masks, empty)
    if mode == "proposals":
        s = settings
        found = selective_search(work, s.proposal_side, s.max_proposals, s.min_proposal_side)
        boxes = np.clip(found / scale, 0, [width, height, width, height])
        item = PreparedImage(work, box_tools.to_rois(found, 1.0), None, extras)
        return Prepared(item, boxes, no_masks, empty)
    assert info.superpixel is not None, "superpixels mode needs a superpixel head"
    area = settings.superpixel_area or info.superpixel.area
    ids = superpixels.slic_superpixels(
        work, area, info.superpixel.compactness, settings.max_superpixels
    )
    grid = superpixels.feature_grid(ids, info.stride)
    item = PreparedImage(work, np.zeros((0, 4), np.float32), grid, extras)
    masks = superpixels.regions(ids, width, height)  # at the image's size, never materialised
    return Prepared(item, np.zeros((0, 4)), masks, np.unique(grid))


def proposal_filter(settings: Settings) -> ProposalFilter:
    return ProposalFilter(settings.score_threshold, settings.nms_iou)


def _ms(seconds: float) -> float:
    return round(seconds * 1e3, 2)
