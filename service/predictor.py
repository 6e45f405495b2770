"""onnxruntime sessions, one per inference worker; knows numpy arrays, not HTTP.

No feed ever carries an empty tensor: a batch whose requests give one head nothing to do
(boxes mode: no superpixel; superpixels mode, or proposals that found nothing: no roi) gets one
placeholder roi or superpixel, whose scores are dropped. onnxruntime's CUDA kernels reject empty
inputs (a fused MatMul + Add + Softmax over zero superpixels fails), and the exporter's samples
follow the same rule.
"""

import itertools
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from service.cpu_plan import CpuPlan, available_cores, cpu_plan
from service.model_info import ModelInfo
from service.sessions import CUDA, fall_back_to_cpu, open_session, plan_sessions
from service.settings import Settings

ONE_SESSION = CpuPlan(workers=1, threads=0)  # onnxruntime chooses the threads


@dataclass(frozen=True)
class PreparedImage:
    """One image ready for the model: stride-aligned sizes are handled when batching."""

    pixels: np.ndarray  # (H, W, 3) uint8, at most max_image_side on its long side
    rois: np.ndarray  # (R, 4) float32 [x1, y1, x2, y2] in pixels, inclusive ends
    superpixels: np.ndarray | None  # (ceil(H / stride), ceil(W / stride)) int32 ids, or None


@dataclass(frozen=True)
class Scores:
    rois: np.ndarray  # (R, K)
    superpixels: np.ndarray  # (S, K)


class Predictor:
    def __init__(
        self,
        path: Path,
        providers: list[str],
        plan: CpuPlan = ONE_SESSION,
        spinning: bool = True,
    ) -> None:
        sessions = plan_sessions(path, providers)
        first = open_session(sessions, plan.threads, spinning)
        if sessions.providers[0] == CUDA and first.get_providers()[0] != CUDA:
            sessions = fall_back_to_cpu(sessions, path)
            first = open_session(sessions, plan.threads, spinning)
        self.provider: str = first.get_providers()[0]
        self.path = sessions.path
        self.info = ModelInfo.from_metadata(str(path), first.get_modelmeta().custom_metadata_map)
        # On the CPU one session per inference worker, each on its share of the cores; CUDA
        # runs one batch at a time on one session.
        extra = plan.workers - 1 if self.provider != CUDA else 0
        self.sessions = [first] + [
            open_session(sessions, plan.threads, spinning) for _ in range(extra)
        ]
        self._next = itertools.count()
        self._local = threading.local()

    @classmethod
    def from_settings(cls, settings: Settings) -> "Predictor":
        plan = cpu_plan(available_cores(), settings.inference_workers, settings.intra_op_threads)
        return cls(settings.model_path, settings.providers, plan, settings.ort_spinning)

    @property
    def session(self) -> ort.InferenceSession:
        """This thread's session: each inference thread keeps the one it first got."""
        session: ort.InferenceSession | None = getattr(self._local, "session", None)
        if session is None:
            session = self.sessions[next(self._next) % len(self.sessions)]
            self._local.session = session
        return session

    def run(
        self, batch: list[PreparedImage], session: ort.InferenceSession | None = None
    ) -> list[Scores]:
        """Pad the images to one size, run once (on this thread's session unless one is
        given), and split the scores per image."""
        counts = [len(p.rois) for p in batch]
        roi_scores, sp_scores = (session or self.session).run(
            ["roi_scores", "superpixel_scores"], self.feed(batch)
        )
        splits = np.split(roi_scores[: sum(counts)], np.cumsum(counts)[:-1])
        return [
            Scores(splits[i], sp_scores[i, : _superpixel_count(p)]) for i, p in enumerate(batch)
        ]

    def feed(self, batch: list[PreparedImage]) -> dict[str, np.ndarray]:
        """The model's inputs for `batch`, never empty (see the module's docstring)."""
        stride, pad = self.info.stride, self.info.pad_value
        height = _round_up(max(p.pixels.shape[0] for p in batch), stride)
        width = _round_up(max(p.pixels.shape[1] for p in batch), stride)
        images = np.full((len(batch), height, width, 3), pad, np.uint8)
        grids = np.full((len(batch), height // stride, width // stride), -1, np.int32)
        for i, item in enumerate(batch):
            h, w = item.pixels.shape[:2]
            images[i, :h, :w] = item.pixels
            if item.superpixels is not None:
                gh, gw = item.superpixels.shape
                grids[i, :gh, :gw] = item.superpixels
        if grids.max() < 0:  # placeholder superpixel: one cell of the first image
            grids[0, 0, 0] = 0
        counts = [len(p.rois) for p in batch]
        index = np.repeat(np.arange(len(batch), dtype=np.float32), counts)[:, None]
        rois = np.concatenate([index, np.concatenate([p.rois for p in batch])], axis=1)
        if not len(rois):  # placeholder roi: the first image's top-left feature cell
            rois = np.array([[0, 0, 0, stride - 1, stride - 1]], np.float32)
        return {"image": images, "rois": rois.astype(np.float32), "superpixels": grids}

    def run_feed(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Every output of the model, by name, for a feed by input name."""
        names = [o.name for o in self.session.get_outputs()]
        return dict(zip(names, self.session.run(names, feed), strict=True))


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def _superpixel_count(item: PreparedImage) -> int:
    return 0 if item.superpixels is None else int(item.superpixels.max(initial=-1)) + 1
