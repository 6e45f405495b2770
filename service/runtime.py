"""The served model's life: load, warm up, self-test, then ready; drain on shutdown."""

import asyncio
import base64
import json
import logging
from pathlib import Path

import numpy as np
from starlette.concurrency import run_in_threadpool

from service.batching import MicroBatcher
from service.metrics import Metrics
from service.pipeline import Pipeline, RegionRequest
from service.predictor import Predictor, PreparedImage
from service.settings import Settings

log = logging.getLogger("regionserve")


def self_test_path(model_path: Path) -> Path:
    """The known scene shipped beside the model: image, boxes and their true labels."""
    return model_path.with_suffix(".selftest.json")


def _per_device(setting: int | None, provider: str, cuda: int, cpu: int) -> int:
    """The setting when given, else the default measured for the provider in use."""
    if setting is not None:
        return setting
    return cuda if provider == "CUDAExecutionProvider" else cpu


def batch_size(settings: Settings, provider: str) -> int:
    """Micro-batching where it helps: on CUDA; on CPU batched convolutions gain nothing."""
    return _per_device(settings.max_batch_size, provider, cuda=8, cpu=1)


def inference_workers(settings: Settings, provider: str) -> int:
    """Runs at once on the session: on CPU two overlap decoding with inference and measured
    faster under load (bench/RESULTS.md); on CUDA one, and batching instead."""
    return _per_device(settings.inference_workers, provider, cuda=1, cpu=2)


class ModelRuntime:
    def __init__(self, settings: Settings, predictor: Predictor, metrics: Metrics) -> None:
        self.settings, self.predictor, self.metrics = settings, predictor, metrics
        self.info = predictor.info
        self.batcher = MicroBatcher(
            predictor.run,
            batch_size(settings, predictor.provider),
            settings.batch_delay_ms / 1e3,
            settings.queue_size,
            metrics.observe_batch,
            inference_workers(settings, predictor.provider),
        )
        self.pipeline = Pipeline(self.info, self.batcher, settings)
        self.ready = False
        self.self_test = "pending"
        self._warm_up_task: asyncio.Task[None] | None = None
        metrics.model_info.labels(self.info.name, self.info.version, predictor.provider).set(1)

    def start(self) -> None:
        self.batcher.start()
        self._warm_up_task = asyncio.get_running_loop().create_task(self._warm_up())

    async def stop(self) -> None:
        self.ready = False
        if self._warm_up_task is not None:
            self._warm_up_task.cancel()
        await self.batcher.stop()

    async def _warm_up(self) -> None:
        try:
            await run_in_threadpool(self._run_representative_shapes)
            self.self_test = await self._run_self_test()
        except Exception as error:  # readiness stays false and says why
            self.self_test = f"failed: {error}"
            log.error("self-test failed: %s", error)
            return
        self.ready = self.self_test.startswith("passed") or self.self_test.startswith("skipped")
        log.info(
            "model %s %s on %s: self-test %s",
            self.info.name,
            self.info.version,
            self.predictor.provider,
            self.self_test,
        )

    def _run_representative_shapes(self) -> None:
        rng = np.random.default_rng(0)
        image = rng.integers(0, 256, (512, 512, 3), dtype=np.uint8)
        rois = np.tile(np.array([[16, 16, 111, 111]], np.float32), (32, 1))
        grid = np.arange(128 * 128, dtype=np.int32).reshape(128, 128) // 64
        self.predictor.run([PreparedImage(image, rois, grid)])
        self.predictor.run([PreparedImage(image[:300, :200], rois[:1], None)] * 2)

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
