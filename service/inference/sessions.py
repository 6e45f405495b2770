"""onnxruntime sessions for the provider in use, on the model file that suits it: per
inference worker, the whole graph and one graph pruned to each head (inference/pruning.py)."""

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import onnxruntime as ort

from regionserve_contract.files import decomposed_variant
from service.inference.model_info import ModelLoadError

log = logging.getLogger("regionserve")
CUDA, CPU = "CUDAExecutionProvider", "CPUExecutionProvider"
CUDA_OPTIONS = {
    # onnxruntime's default (EXHAUSTIVE) benchmarks every cuDNN algorithm for each new input
    # shape, and a region model meets new shapes all the time: every batch size, image size
    # and roi count. Measured on an H100 (bench/RESULTS.md): concurrency 8 ran slower than 1.
    "cudnn_conv_algo_search": "HEURISTIC",
    # TF32 matrix units round inputs to 10 bits: scores differed from the CPU's by 2e-4.
    "use_tf32": "0",
}


def with_options(providers: list[str]) -> list[str | tuple[str, dict[str, str]]]:
    """The providers as onnxruntime takes them, CUDA with RegionServe's options."""
    return [(p, CUDA_OPTIONS) if p == CUDA else p for p in providers]


@dataclass(frozen=True)
class SessionPlan:
    path: Path  # the file the sessions load
    providers: list[str]  # in preference order, all available in this onnxruntime


def plan_sessions(path: Path, preferred: list[str]) -> SessionPlan:
    """The providers this onnxruntime has, and the file for the first of them."""
    if not path.is_file():
        raise ModelLoadError(f"{path}: model file not found")
    available = set(ort.get_available_providers())
    providers = [p for p in preferred if p in available] or [CPU]
    if providers[0] == CUDA and decomposed_variant(path).is_file():
        return SessionPlan(decomposed_variant(path), providers)
    return SessionPlan(path, providers)


def open_session(
    plan: SessionPlan, threads: int, spinning: bool, graph: bytes | None = None
) -> ort.InferenceSession:
    """A session on the plan's file, or on `graph` (a serialized model pruned from it)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    # Spinning workers wait hot for the next operator: lower latency per run, but they
    # take CPU that decoding and HTTP could use while requests overlap (a setting).
    options.add_session_config_entry("session.intra_op.allow_spinning", str(int(spinning)))
    # And they stop once the last concurrent run returns, rather than spin on for
    # milliseconds through the next request's HTTP and decoding on the same cores.
    options.add_session_config_entry("session.force_spinning_stop", "1")
    try:
        model = str(plan.path) if graph is None else graph
        return ort.InferenceSession(model, options, providers=with_options(plan.providers))
    except Exception as error:  # onnxruntime raises several unrelated types
        raise ModelLoadError(f"{plan.path}: onnxruntime cannot load it: {error}") from error


@dataclass(frozen=True)
class WorkerSessions:
    """One inference worker's sessions: the whole graph (the V2 protocol's signature, and
    batches mixing modes), and one pruned session per head, keyed by the heads it computes."""

    whole: ort.InferenceSession
    pruned: Mapping[frozenset[str], ort.InferenceSession] = field(default_factory=dict)

    def for_heads(self, heads: frozenset[str]) -> ort.InferenceSession:
        """The smallest session that computes `heads`."""
        return self.pruned.get(heads, self.whole)

    def every_session(self) -> list[ort.InferenceSession]:
        return [self.whole, *self.pruned.values()]


def open_worker(
    plan: SessionPlan,
    threads: int,
    spinning: bool,
    pruned: Mapping[frozenset[str], bytes],
    whole: ort.InferenceSession | None = None,
) -> WorkerSessions:
    """A worker's sessions (`whole`: its whole-graph session, already open)."""
    return WorkerSessions(
        whole or open_session(plan, threads, spinning),
        {heads: open_session(plan, threads, spinning, graph) for heads, graph in pruned.items()},
    )


def fall_back_to_cpu(plan: SessionPlan, original: Path) -> SessionPlan:
    """CUDA was available in this build but did not start (no driver, CUDA or cuDNN
    libraries missing): say so once, and serve the CPU's file on the CPU."""
    log.warning(
        "%s is installed but could not be used (see onnxruntime's error above: driver or "
        "CUDA/cuDNN libraries missing?); serving %s on %s instead",
        CUDA,
        original,
        CPU,
    )
    return SessionPlan(original, [CPU])
