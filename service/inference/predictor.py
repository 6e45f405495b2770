"""onnxruntime sessions, one per inference worker; knows numpy arrays, not HTTP.

No feed ever carries an empty tensor: a batch whose requests give one head nothing to do
(boxes mode: no superpixel; superpixels mode, or proposals that found nothing: no roi) gets one
placeholder roi or superpixel, whose scores are dropped. onnxruntime's CUDA kernels reject empty
inputs (a fused MatMul + Add + Softmax over zero superpixels fails), and the exporter's samples
follow the same rule.
"""

import itertools
import threading
from pathlib import Path

import numpy as np
import onnxruntime as ort

from service.inference.cpu_plan import CpuPlan, available_cores, cpu_plan
from service.inference.feed import ModelInput, Scores, build_feed, shared_runs, split_scores
from service.inference.model_info import ModelInfo
from service.inference.self_test import load_samples
from service.inference.sessions import CUDA, fall_back_to_cpu, open_session, plan_sessions
from service.settings import Settings

ONE_SESSION = CpuPlan(workers=1, threads=0)  # onnxruntime chooses the threads


class Predictor:
    def __init__(
        self,
        path: Path,
        providers: list[str],
        plan: CpuPlan = ONE_SESSION,
        spinning: bool = True,
        allow_no_samples: bool = False,
    ) -> None:
        sessions = plan_sessions(path, providers)
        first = open_session(sessions, plan.threads, spinning)
        if sessions.providers[0] == CUDA and first.get_providers()[0] != CUDA:
            sessions = fall_back_to_cpu(sessions, path)
            first = open_session(sessions, plan.threads, spinning)
        self.provider: str = first.get_providers()[0]
        self.path = sessions.path
        signature = first.get_inputs()
        # Both files of an export (CPU and CUDA lowering) share <stem>.samples.npz.
        self.samples = load_samples(
            path, signature, [o.name for o in first.get_outputs()], allow_no_samples
        )
        self.info = ModelInfo.from_metadata(
            str(path), first.get_modelmeta().custom_metadata_map, signature, self.samples
        )
        # On the CPU one session per inference worker, each on its share of the cores; CUDA
        # runs one batch at a time on one session.
        extra = plan.workers - 1 if self.provider != CUDA else 0
        self.sessions = [first] + [
            open_session(sessions, plan.threads, spinning) for _ in range(extra)
        ]
        self._next = itertools.count()
        self._local = threading.local()

    @classmethod
    def from_settings(cls, settings: Settings, cores: int | None = None) -> "Predictor":
        """Sessions on `cores` (None: all this process may use)."""
        plan = cpu_plan(
            cores or available_cores(), settings.inference_workers, settings.intra_op_threads
        )
        return cls(
            settings.model_path,
            settings.providers,
            plan,
            settings.ort_spinning,
            settings.allow_no_self_test,
        )

    @property
    def session(self) -> ort.InferenceSession:
        """This thread's session: each inference thread keeps the one it first got."""
        session: ort.InferenceSession | None = getattr(self._local, "session", None)
        if session is None:
            session = self.sessions[next(self._next) % len(self.sessions)]
            self._local.session = session
        return session

    def run(
        self, batch: list[ModelInput], session: ort.InferenceSession | None = None
    ) -> list[Scores]:
        """Pad the images to one size, run (on this thread's session unless one is given),
        and split the scores per image. Images whose extra inputs cannot be stacked (values
        without a batch axis that differ) run apart."""
        runs = shared_runs(self.info, batch)
        if len(runs) == 1:
            return self._run_together(batch, session or self.session)
        scores: dict[int, Scores] = {}
        for run in runs:
            together = self._run_together([batch[i] for i in run], session or self.session)
            scores.update(zip(run, together, strict=True))
        return [scores[i] for i in range(len(batch))]

    def _run_together(self, batch: list[ModelInput], session: ort.InferenceSession) -> list[Scores]:
        heads = list(self.info.outputs)
        outputs = session.run([self.info.outputs[h] for h in heads], self.feed(batch))
        return split_scores(self.info, batch, dict(zip(heads, outputs, strict=True)))

    def feed(self, batch: list[ModelInput]) -> dict[str, np.ndarray]:
        """The model's inputs for `batch`, never empty (see the module's docstring)."""
        return build_feed(self.info, batch)

    def run_feed(
        self, feed: dict[str, np.ndarray], session: ort.InferenceSession | None = None
    ) -> dict[str, np.ndarray]:
        """Every output of the model, by name, for a feed by input name."""
        session = session or self.session
        names = [o.name for o in session.get_outputs()]
        return dict(zip(names, session.run(names, feed), strict=True))
