"""The served model's life: load, warm up, self-test, then ready; drain on shutdown."""

import asyncio
import base64
import json
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
from starlette.concurrency import run_in_threadpool

from service.batching import MicroBatcher
from service.metrics import Metrics
from service.pipeline import Pipeline, RegionRequest
from service.predictor import Predictor, PreparedImage
from service.sessions import CUDA
from service.settings import Settings

log = logging.getLogger("regionserve")


def self_test_path(model_path: Path) -> Path:
    """The known scene shipped beside the model: image, boxes and their true labels."""
    return model_path.with_suffix(".selftest.json")


def batch_size(settings: Settings, provider: str) -> int:
    """Micro-batching where it helps: on CUDA; on CPU batched convolutions gain nothing."""
    if settings.max_batch_size is not None:
        return settings.max_batch_size
    return 8 if provider == CUDA else 1


class ModelRuntime:
    def __init__(
        self,
        settings: Settings,
        predictor: Predictor,
        metrics: Metrics,
        on_failure: Callable[[str], None] = lambda message: None,
    ) -> None:
        self.settings, self.predictor, self.metrics = settings, predictor, metrics
        self.info = predictor.info
        self.batcher = MicroBatcher(
            predictor.run,
            batch_size(settings, predictor.provider),
            settings.batch_delay_ms / 1e3,
            settings.queue_size,
            metrics.observe_batch,
            settings.inference_workers or len(predictor.sessions),
        )
        self.pipeline = Pipeline(self.info, self.batcher, settings)
        self.ready = False
        self.self_test = "pending"
        self._on_failure = on_failure
        self._warm_up_task: asyncio.Task[None] | None = None
        metrics.model_info.labels(
            self.info.name,
            self.info.version,
            predictor.provider,
            predictor.path.name,
            self.info.roi_lowering,
        ).set(1)

    def start(self) -> None:
        self.batcher.start()
        self._warm_up_task = asyncio.get_running_loop().create_task(self._warm_up())

    async def stop(self) -> None:
        self.ready = False
        if self._warm_up_task is not None:
            self._warm_up_task.cancel()
        await self.batcher.stop()

    async def _warm_up(self) -> None:
        where = f"{self.predictor.path} on {self.predictor.provider}"
        try:
            await run_in_threadpool(self._run_representative_shapes)
            self.self_test = await self._run_self_test()
        except Exception as error:  # readiness stays false and says why; the process stops
            self.self_test = f"failed: {error}"
            self._on_failure(f"self-test of {where} failed: {error}")
            return
        self.ready = self.self_test.startswith("passed") or self.self_test.startswith("skipped")
        log.info(
            "model %s %s, %s: self-test %s",
            self.info.name,
            self.info.version,
            where,
            self.self_test,
        )

    def _run_representative_shapes(self) -> None:
        """Every session, on the shapes each mode feeds: one large image with boxes and
        superpixels, a batch of two with boxes only, and one with superpixels only."""
        stride = self.info.stride
        side = min(512, self.info.max_image_side)
        image = np.random.default_rng(0).integers(0, 256, (side, side, 3), dtype=np.uint8)
        rois = np.tile(np.array([[16, 16, 111, 111]], np.float32), (32, 1))
        cells = -(-side // stride)
        grid = np.arange(cells * cells, dtype=np.int32).reshape(cells, cells) // 64
        no_rois = np.zeros((0, 4), np.float32)
        batches = [
            [PreparedImage(image, rois, grid)],
            [PreparedImage(image[: side // 2, : side // 3], rois[:1], None)] * 2,
            [PreparedImage(image, no_rois, grid)],
        ]
        for session in self.predictor.sessions:
            for batch in batches:
                self.predictor.run(batch, session)

    async def _run_self_test(self) -> str:
        path = self_test_path(self.settings.model_path)
        if not path.is_file():
            return f"skipped: {path} not found"
        scene = json.loads(path.read_text())
        request = RegionRequest(base64.b64decode(scene["image"]), scene["boxes"], 1, "boxes")
        response = await self.pipeline.classify(request)
        got = [r["label"] for r in response["regions"]]
        if got != scene["labels"]:
            raise RuntimeError(f"labels {got} differ from the known {scene['labels']}")
        return f"passed ({len(got)} regions)"
