"""decode -> prepare (per mode) -> micro-batched inference -> regions -> one typed answer.
No HTTP in here: the protocols render the answer."""

import time
from collections.abc import Callable
from functools import partial
from typing import Any

from service.inference.batching import MicroBatcher, RunOne
from service.inference.feed import Scores
from service.inference.memory_budget import MemoryBudget
from service.inference.model_info import ModelInfo
from service.regions.answer import ImageSize, ModelId, RegionColumns, RegionsAnswer
from service.regions.labels import (
    box_regions,
    proposal_filter,
    proposal_regions,
    superpixel_regions,
)
from service.regions.memory_estimate import reservation
from service.regions.prepare import Prepared, prepare_request, proposal_candidates
from service.regions.request import RegionRequest, choose_mode
from service.settings import Settings


class Pipeline:
    def __init__(
        self,
        info: ModelInfo,
        batcher: MicroBatcher[Any],
        settings: Settings,
        observe_regions: Callable[[int], None],
        memory: MemoryBudget | None = None,
    ) -> None:
        """`observe_regions(count)`: called once per answer (the regions metric); `memory`:
        the budget shared with the other ways in (else one of the pipeline's own)."""
        self.info, self.batcher, self.settings = info, batcher, settings
        self.memory = memory or MemoryBudget.of(settings)
        self.rule = proposal_filter(settings)
        self.observe_regions = observe_regions

    async def classify(self, request: RegionRequest) -> RegionsAnswer:
        start = time.perf_counter()
        top_k_limit = min(self.settings.max_top_k, len(self.info.classes))
        mode = choose_mode(request, top_k_limit, self.info.modes)
        s = self.settings
        need = await reservation(
            request.image, s.max_image_pixels, self.info.bound, s.max_decode_mib * 2**20
        )
        # Held until the batcher thread is done with the request, even past a deadline.
        held = await self.memory.hold(need)
        # One trip to a batcher thread: decode, prepare, then the batched run.
        prepared, scores = await self.batcher.run(
            partial(self._prepare_and_run, request, mode),
            s.request_timeout_s - held.waited_s,
            on_done=held.release,
        )
        inferred = time.perf_counter()
        picture = prepared.picture
        answer = RegionsAnswer(
            model=ModelId(self.info.name, self.info.version),
            # resized_to: never silently (service/regions/picture.py)
            image=ImageSize(picture.width, picture.height, picture.resized_to),
            mode=mode,
            regions=self._regions(mode, prepared, scores, request.top_k),
            timing_ms={
                "decode": _ms(prepared.decode_s),
                "prepare": _ms(prepared.prepare_s),
                "inference": _ms(inferred - start - prepared.decode_s - prepared.prepare_s),
                "total": _ms(time.perf_counter() - start),
            },
        )
        self.observe_regions(len(answer.regions))
        return answer

    def _regions(self, mode: str, prepared: Prepared, scores: Scores, top_k: int) -> RegionColumns:
        if mode == "boxes":
            return box_regions(self.info, prepared.boxes, scores.rois, top_k)
        if mode == "proposals":
            boxes, classes = proposal_candidates(prepared, scores, self.rule.min_objectness)
            return proposal_regions(self.info, boxes, classes, top_k, self.rule)
        masks = prepared.masks.take(prepared.seen)
        return superpixel_regions(self.info, masks, scores.superpixels[prepared.seen], top_k)

    def _prepare_and_run(
        self, request: RegionRequest, mode: str, run_one: RunOne
    ) -> tuple[Prepared, Scores]:
        prepared = prepare_request(self.info, self.settings, request, mode)
        return prepared, run_one(prepared.item)


def _ms(seconds: float) -> float:
    return round(seconds * 1e3, 2)
