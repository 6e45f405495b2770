"""The model's own throughput (images/s) at the batch sizes the service runs, per provider,
precision and input path (session.run, or IO binding as the service does on CUDA): the ceiling
the service is measured against. Contenders alternate within each round, so that a loaded
machine slows them alike and their ratios hold; medians are reported.

The float16 file is `export --precision fp16`'s; for the shipped model bench gpu writes it under
build/gpu/ (with onnxconverter-common, on the export side), beside copies of the model's other
files, so a service can be started on it. A machine without the converter (the GPU machine)
uses the build/gpu/ carried from here."""

import shutil
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

from bench.report import table
from regionserve_contract.files import decomposed_variant, float16_variant, samples_path
from service.inference.sessions import CPU, CUDA, run_bound, with_options

Feed = dict[str, np.ndarray]
BUILD = Path(__file__).parents[1] / "build" / "gpu"
ROUNDS = 7
HEADER = ["contender", "batch", "median ms per batch", "images/s", "vs fp32 on its provider"]


@dataclass(frozen=True)
class Contender:
    label: str  # "CUDA fp16, IO binding"
    provider: str
    path: Path
    bound: bool  # through IO binding

    @property
    def baseline(self) -> str:
        """The label of the float32 session.run contender on the same provider."""
        return f"{'CUDA' if self.provider == CUDA else 'CPU'} fp32"


def float16_model(model: Path, folder: Path = BUILD) -> Path | None:
    """`folder`/<model's name>, its files copied beside it with the float16 CUDA file; None
    when that file is absent and cannot be written here (no onnxconverter-common)."""
    copy = folder / model.name
    half = float16_variant(decomposed_variant(copy))
    if not half.is_file():
        try:
            from model_export.onnx_export.precision import to_float16
        except ImportError:
            return None
        folder.mkdir(parents=True, exist_ok=True)
        for source in (model, decomposed_variant(model), samples_path(model)):
            shutil.copy(source, folder / source.name)
        onnx.save(to_float16(onnx.load(str(decomposed_variant(model))), ["rois"]), str(half))
    return copy


def contenders(model: Path, half: Path | None, providers: list[str]) -> list[Contender]:
    """CPU: the MaxRoiPool file, run and bound; CUDA: the decomposed file, run and bound,
    and the float16 file bound (as the service runs it)."""
    found = []
    if CPU in providers:
        found += [Contender("CPU fp32", CPU, model, False)]
        found += [Contender("CPU fp32, IO binding", CPU, model, True)]
    if CUDA in providers:
        cuda_file = decomposed_variant(model)
        found += [Contender("CUDA fp32", CUDA, cuda_file, False)]
        found += [Contender("CUDA fp32, IO binding", CUDA, cuda_file, True)]
        if half is not None:
            found += [Contender("CUDA fp16, IO binding", CUDA, half, True)]
    return found


def _runner(contender: Contender) -> Callable[[Feed], list[np.ndarray]]:
    providers = with_options([contender.provider] + ([CPU] if contender.provider == CUDA else []))
    session = ort.InferenceSession(str(contender.path), providers=providers)
    names = [o.name for o in session.get_outputs()]
    if contender.bound:
        return lambda feed: run_bound(session, names, feed)
    return lambda feed: session.run(names, feed)


def measure(
    found: list[Contender], feeds: dict[int, Feed], rounds: int = ROUNDS
) -> dict[tuple[str, int], float]:
    """Median ms per batch of each contender at each batch size (one warm-up run each)."""
    runners = {c.label: _runner(c) for c in found}
    medians = {}
    for batch, feed in feeds.items():
        samples: dict[str, list[float]] = {label: [] for label in runners}
        for run in runners.values():
            run(feed)
        for _ in range(rounds):
            for label, run in runners.items():
                start = time.perf_counter()
                run(feed)
                samples[label].append((time.perf_counter() - start) * 1e3)
        medians.update({(label, batch): statistics.median(s) for label, s in samples.items()})
    return medians


def images_per_second(medians: dict[tuple[str, int], float], label: str, batch: int) -> float:
    return batch / medians[(label, batch)] * 1e3


def throughput_table(found: list[Contender], medians: dict[tuple[str, int], float]) -> str:
    rows = []
    for contender in found:
        for (label, batch), ms in medians.items():
            if label != contender.label:
                continue
            base = medians.get((contender.baseline, batch))
            ratio = f"{base / ms:.2f}x" if base else "-"
            rate = images_per_second(medians, label, batch)
            shown = f"{rate:.0f}" if rate >= 100 else f"{rate:.2g}"
            rows.append([label, str(batch), f"{ms:.2f}", shown, ratio])
    return table(HEADER, rows)
