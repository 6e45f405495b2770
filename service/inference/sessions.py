"""onnxruntime sessions for the provider in use, on the model file that suits it: per
inference worker, the whole graph and one graph pruned to each head (inference/pruning.py)."""

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnxruntime as ort

from regionserve_contract.files import decomposed_variant, float16_variant
from regionserve_contract.metadata import FP16, FP32
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


def plan_sessions(path: Path, preferred: list[str], precision: str = FP32) -> SessionPlan:
    """The providers this onnxruntime has, and the file for the first of them: with
    precision fp16, the CUDA file's float16 variant, on CUDA only (refused elsewhere)."""
    if not path.is_file():
        raise ModelLoadError(f"{path}: model file not found")
    available = set(ort.get_available_providers())
    providers = [p for p in preferred if p in available] or [CPU]
    cuda_file = decomposed_variant(path) if decomposed_variant(path).is_file() else path
    if precision == FP16:
        return float16_plan(float16_variant(cuda_file), providers)
    return SessionPlan(cuda_file if providers[0] == CUDA else path, providers)


def float16_plan(path: Path, providers: list[str]) -> SessionPlan:
    """The float16 file on CUDA; ModelLoadError in one line on any other provider (Triton
    and TF Serving also refuse to load what their backend cannot serve as configured)."""
    if providers[0] != CUDA:
        raise ModelLoadError(
            f"REGIONSERVE_PRECISION=fp16 needs {CUDA}, and this process would run on "
            f"{providers[0]} (its float16 kernels are few and slow): unset it, or serve on a GPU"
        )
    if not path.is_file():
        raise ModelLoadError(
            f"{path} not found: REGIONSERVE_PRECISION=fp16 serves the float16 file that "
            "`python -m model_export export --precision fp16` writes"
        )
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


def run_bound(
    session: ort.InferenceSession, names: list[str], feed: dict[str, np.ndarray]
) -> list[np.ndarray]:
    """`session.run(names, feed)` through IO binding: the inputs bound from numpy (copied to
    the device once), the outputs allocated by onnxruntime on the session's device and copied
    back once, after the run."""
    device = "cuda" if session.get_providers()[0] == CUDA else "cpu"
    binding = session.io_binding()
    for name, value in feed.items():
        binding.bind_cpu_input(name, np.ascontiguousarray(value))
    for name in names:
        binding.bind_output(name, device)
    session.run_with_iobinding(binding)
    return list(binding.copy_outputs_to_cpu())


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
