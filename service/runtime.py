"""The served model's life: load, warm up, self-test, then ready; drain on shutdown."""

import asyncio
import logging
from collections.abc import Callable, Mapping
from functools import partial

import numpy as np
from starlette.concurrency import run_in_threadpool

from service.batching import MicroBatcher
from service.metrics import Metrics
from service.model_feed import PreparedImage
from service.model_info import ModelInfo
from service.model_inputs import fixed_dims
from service.pipeline import Pipeline
from service.predictor import Predictor
from service.self_test import NO_SELF_TEST, SCORE_TOLERANCE, replay
from service.sessions import CUDA
from service.settings import Settings

log = logging.getLogger("regionserve")
WARM_UP_SIDE = 512  # at most, for a free side; the model's max_image_side when smaller


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
            self._on_batch,
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
            await run_in_threadpool(self._run_representative_shapes)
            stage = "self-test"
            self.self_test = await run_in_threadpool(self._replay_samples)
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

    def _run_representative_shapes(self) -> None:
        """Every session, on the shapes each of the model's modes feeds; an error names the
        shapes fed and those the model declares."""
        for session in self.predictor.sessions:
            for batch in representative_batches(self.info):
                feed = self.predictor.feed(batch)
                try:
                    self.predictor.run_feed(feed, session)
                except Exception as error:  # onnxruntime raises several unrelated types
                    declared = shapes({i.name: fixed_dims(i) for i in session.get_inputs()})
                    raise WarmUpFailed(
                        f"the model refuses inputs {shapes(feed)} (it declares {declared}): {error}"
                    ) from error

    def _replay_samples(self) -> str:
        """The recorded samples on every session (SelfTestFailed past the tolerance)."""
        samples = self.predictor.samples
        if samples is None:
            return NO_SELF_TEST
        worst = max(
            replay(samples, partial(self.predictor.run_feed, session=session))
            for session in self.predictor.sessions
        )
        return (
            f"passed ({len(samples)} recorded samples, largest difference {worst:.2g}, "
            f"tolerance {SCORE_TOLERANCE:g})"
        )


class WarmUpFailed(RuntimeError):
    """The model refused the warm-up's inputs; the message names their shapes."""


def shapes(arrays: Mapping[str, np.ndarray | tuple[int | None, ...]]) -> str:
    """`name [d, ...]` of each input; -1 for a free size."""
    dims = {k: v.shape if isinstance(v, np.ndarray) else v for k, v in arrays.items()}
    return ", ".join(f"{k} {[-1 if d is None else d for d in v]}" for k, v in dims.items())


def representative_batches(info: ModelInfo) -> list[list[PreparedImage]]:
    """One large image with rois and superpixels, a batch of two smaller ones with rois
    only, and one with superpixels only; at the model's fixed sizes, free sides from the
    stride and max_image_side."""
    side = min(WARM_UP_SIDE, info.max_image_side)
    height, width = (fixed or side for fixed in info.image_size)
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    box = [width / 8, height / 8, width * 7 / 8, height * 7 / 8]
    rois = np.tile(np.array(box, np.float32), (32, 1))
    rows, cols = -(-height // info.stride), -(-width // info.stride)
    grid = np.arange(rows * cols, dtype=np.int32).reshape(rows, cols) // 64
    small = image[: max(1, height // 2), : max(1, width // 3)]
    with_rois = "rois" in info.inputs
    with_grid = "superpixels" in info.inputs
    no_rois = np.zeros((0, 4), np.float32)
    both = PreparedImage(image, rois if with_rois else no_rois, grid if with_grid else None)
    batches = [[both]]
    if with_rois:
        batches.append([PreparedImage(small, rois[:1], None)] * 2)
    if with_grid and with_rois:
        batches.append([PreparedImage(image, no_rois, grid)])
    return [[_with_extras(info, item) for item in batch] for batch in batches]


def _with_extras(info: ModelInfo, item: PreparedImage) -> PreparedImage:
    """Zeros for each extra input: image-sized axes follow the image, free ones are 1."""
    extras = {}
    for extra in info.extra_inputs:
        shape = [1 if d is None else d for d in extra.shape]
        if extra.divisor is not None:
            shape[1:3] = extra.spatial_size(*item.pixels.shape[:2])
        extras[extra.name] = np.zeros(shape, extra.dtype)
    return PreparedImage(item.pixels, item.rois, item.superpixels, extras)
