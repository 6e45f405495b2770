"""onnxruntime sessions, one set per inference worker; knows numpy arrays, not HTTP.

Each worker has the whole graph and, for a model with several heads, one graph pruned to each
head: onnxruntime runs every node of a session whatever a run fetches, so a batch runs on the
smallest session that computes the heads its items want (boxes and proposals modes: no
superpixel head; superpixels mode: no RoI head; with a proposal head, boxes mode without it and
proposals mode with it), and only a batch mixing modes on the whole one.

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

from regionserve_contract.metadata import FP16, FP32, Key
from service.inference.cpu_plan import CpuPlan, available_cores, cpu_plan
from service.inference.feed import (
    ModelInput,
    Scores,
    build_feed,
    shared_runs,
    split_scores,
    wanted_heads,
)
from service.inference.model_info import ModelInfo, ModelLoadError
from service.inference.proposal_head import output_names, wants_proposals, with_proposals
from service.inference.pruning import PROPOSALS, head_graphs
from service.inference.self_test import load_samples
from service.inference.sessions import (
    CUDA,
    WorkerSessions,
    fall_back_to_cpu,
    open_session,
    open_worker,
    plan_sessions,
    run_bound,
)
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
        precision: str = FP32,
        io_binding: bool | None = None,
    ) -> None:
        """`precision` fp16: the float16 file on CUDA (ModelLoadError elsewhere);
        `io_binding` None: on CUDA only."""
        sessions = plan_sessions(path, providers, precision)
        first = open_session(sessions, plan.threads, spinning)
        if sessions.providers[0] == CUDA and first.get_providers()[0] != CUDA:
            if precision == FP16:
                raise ModelLoadError(
                    f"REGIONSERVE_PRECISION=fp16: {CUDA} did not start (see onnxruntime's "
                    "error above); the float16 file is not served on the CPU"
                )
            sessions = fall_back_to_cpu(sessions, path)
            first = open_session(sessions, plan.threads, spinning)
        self.provider: str = first.get_providers()[0]
        self.path = sessions.path
        metadata = first.get_modelmeta().custom_metadata_map
        self.precision: str = metadata.get(Key.PRECISION, FP32)
        self.io_binding = self.provider == CUDA if io_binding is None else io_binding
        signature = first.get_inputs()
        # Both files of an export (CPU and CUDA lowering) share <stem>.samples.npz.
        self.samples = load_samples(
            path, signature, [o.name for o in first.get_outputs()], allow_no_samples
        )
        self.info = ModelInfo.from_metadata(str(path), metadata, signature, self.samples)
        # On the CPU one set of sessions per inference worker, each on its share of the cores;
        # CUDA runs one batch at a time on one set.
        workers = plan.workers if self.provider != CUDA else 1
        head = output_names(self.info) if self.info.proposal_head is not None else []
        pruned = head_graphs(sessions.path, self.info.outputs, head)
        self.workers: list[WorkerSessions] = [
            open_worker(sessions, plan.threads, spinning, pruned, first if n == 0 else None)
            for n in range(workers)
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
            settings.precision,
            settings.io_binding,
        )

    @property
    def worker(self) -> WorkerSessions:
        """This thread's sessions: each inference thread keeps the set it first got."""
        worker: WorkerSessions | None = getattr(self._local, "worker", None)
        if worker is None:
            worker = self.workers[next(self._next) % len(self.workers)]
            self._local.worker = worker
        return worker

    @property
    def session(self) -> ort.InferenceSession:
        """This thread's whole-graph session (every input and output of the model)."""
        return self.worker.whole

    def every_session(self) -> list[ort.InferenceSession]:
        """Every session of every worker: what the warm-up and the self-test run."""
        return [session for worker in self.workers for session in worker.every_session()]

    def run(self, batch: list[ModelInput], worker: WorkerSessions | None = None) -> list[Scores]:
        """Pad the images to one size, run (on this thread's sessions unless given), and
        split the scores per image. Images whose extra inputs cannot be stacked (values
        without a batch axis that differ) run apart."""
        runs = shared_runs(self.info, batch)
        if len(runs) == 1:
            return self._run_together(batch, worker or self.worker)
        scores: dict[int, Scores] = {}
        for run in runs:
            together = self._run_together([batch[i] for i in run], worker or self.worker)
            scores.update(zip(run, together, strict=True))
        return [scores[i] for i in range(len(batch))]

    def _run_together(self, batch: list[ModelInput], worker: WorkerSessions) -> list[Scores]:
        heads = wanted_heads(self.info, batch)
        propose = wants_proposals(self.info, batch)
        session = worker.for_heads(heads | {PROPOSALS} if propose else heads)
        names = {self.info.outputs[h]: h for h in self.info.outputs if h in heads}
        fetched = list(names) + (output_names(self.info) if propose else [])
        outputs = self.run_feed(self.feed(batch), session, fetched)
        scores = split_scores(self.info, batch, {h: outputs[n] for n, h in names.items()})
        return with_proposals(self.info, scores, outputs) if propose else scores

    def feed(self, batch: list[ModelInput]) -> dict[str, np.ndarray]:
        """The model's inputs for `batch`, never empty (see the module's docstring)."""
        return build_feed(self.info, batch)

    def run_feed(
        self,
        feed: dict[str, np.ndarray],
        session: ort.InferenceSession | None = None,
        outputs: list[str] | None = None,
    ) -> dict[str, np.ndarray]:
        """The outputs by name (default: every output of the session; the session: this
        thread's whole graph) for a feed by input name; inputs a pruned session no longer
        takes are left out."""
        session = session or self.session
        names = outputs or [o.name for o in session.get_outputs()]
        taken = {i.name for i in session.get_inputs()}
        fed = {name: value for name, value in feed.items() if name in taken}
        values = run_bound(session, names, fed) if self.io_binding else session.run(names, fed)
        return dict(zip(names, values, strict=True))
