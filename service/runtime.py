"""The served model's life: load, warm up, self-test, then ready; drain on shutdown."""

import asyncio
import logging
from collections.abc import Callable

from starlette.concurrency import run_in_threadpool

from service.inference.batching import MicroBatcher
from service.inference.memory_budget import MemoryBudget
from service.inference.predictor import Predictor
from service.inference.self_test import replay_samples, warm_up
from service.inference.sessions import CUDA, WorkerSessions
from service.metrics import Metrics
from service.regions.pipeline import Pipeline
from service.settings import Settings

log = logging.getLogger("regionserve")


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
        # Batches run at once, each on a worker's sessions (on CUDA, several on one set).
        workers = predictor.workers
        runs = settings.inference_workers or len(workers)
        slots = [workers[n % len(workers)] for n in range(runs)]
        self.batcher: MicroBatcher[WorkerSessions] = MicroBatcher(
            predictor.run,
            slots,
            batch_size(settings, predictor.provider),
            settings.batch_delay_ms / 1e3,
            settings.queue_size,
            self._on_batch,
        )
        self.memory = MemoryBudget.of(settings)  # one for every way in
        self.pipeline = Pipeline(
            self.info, self.batcher, settings, metrics.regions.observe, self.memory
        )
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
        self._warm_up_task = asyncio.get_running_loop().create_task(self._warm_up())

    def _on_batch(self, size: int, seconds: float) -> None:
        self.metrics.observe_batch(size, seconds)
        # Fresh at every batch: with several processes a scrape reads each one's last value.
        self.metrics.queue_depth.set(self.batcher.depth)

    async def stop(self) -> None:
        self.ready = False
        self.metrics.processes_ready.set(0)
        if self._warm_up_task is not None:
            self._warm_up_task.cancel()
        await self.batcher.stop()

    async def _warm_up(self) -> None:
        where = f"{self.predictor.path} on {self.predictor.provider}"
        stage = "warm-up"
        try:
            await run_in_threadpool(warm_up, self.predictor)
            stage = "self-test"
            self.self_test = await run_in_threadpool(replay_samples, self.predictor)
        except Exception as error:  # readiness stays false and says why; the process stops
            reason = " ".join(str(error).split())  # onnxruntime's messages span lines
            failed = f"failed: {reason}"
            self.self_test = failed if stage == "self-test" else f"not run: warm-up {failed}"
            self._on_failure(f"{stage} of {where} failed: {reason}")
            return
        self.ready = True
        self.metrics.processes_ready.set(1)
        log.info(
            "model %s %s, %s: self-test %s",
            self.info.name,
            self.info.version,
            where,
            self.self_test,
        )
