"""The start-up self-test: the samples recorded at export (`<stem>.samples.npz`: inputs and the
Keras model's own outputs on them) replayed on the sessions in use, every output within
SCORE_TOLERANCE of the recorded one. Both files of an export (`<stem>.onnx` and the CUDA
provider's `<stem>.decomposed.onnx`) share the samples."""

import re
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from service.model_info import ModelLoadError
from service.model_inputs import NodeArg, Sample, fixed_dims

SCORE_TOLERANCE = 1e-4  # absolute, on every output (scores)
NO_SELF_TEST = "not run: no recorded samples, allowed by REGIONSERVE_ALLOW_NO_SELF_TEST"
_KEY = re.compile(r"sample(\d+)/(input|output)/(.+)")


class SelfTestFailed(RuntimeError):
    """An output differs from the recorded one; the message names the sample and output."""


def samples_path(model_path: Path) -> Path:
    stem = model_path.name.removesuffix(".onnx").removesuffix(".decomposed")
    return model_path.with_name(stem + ".samples.npz")


def load_samples(
    model_path: Path, inputs: Sequence[NodeArg], outputs: list[str], allow_missing: bool
) -> list[Sample] | None:
    """The recorded samples, checked against the model's inputs (names and fixed sizes) and
    outputs; None when there are none and that is allowed."""
    path = samples_path(model_path)
    if not path.is_file():
        if allow_missing:
            return None
        raise ModelLoadError(
            f"{path} not found: the model's recorded samples, which the self-test replays "
            "(`python -m model_export export` writes them; REGIONSERVE_ALLOW_NO_SELF_TEST=true "
            "serves without a self-test)"
        )
    try:
        samples = _read(path)
        _check(samples, inputs, outputs)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise ModelLoadError(f"{path}: unusable samples: {error}") from error
    return samples


def _read(path: Path) -> list[Sample]:
    samples: dict[int, Sample] = {}
    with np.load(path, allow_pickle=False) as archive:
        for key in archive.files:
            found = _KEY.fullmatch(key)
            if found is None:
                raise ValueError(f"key {key!r} is not sample{{k}}/input|output/{{name}}")
            number, part, name = found.groups()
            entry = samples.setdefault(int(number), ({}, {}))
            entry[0 if part == "input" else 1][name] = archive[key]
    return [samples[k] for k in sorted(samples)]


def _check(samples: list[Sample], inputs: Sequence[NodeArg], outputs: list[str]) -> None:
    if not samples:
        raise ValueError("no sample in the file")
    names = sorted(node.name for node in inputs)
    for k, (feed, recorded) in enumerate(samples):
        if sorted(feed) != names:
            raise ValueError(f"sample {k} has inputs {sorted(feed)}, the model {names}")
        for node in inputs:
            _check_sizes(k, node, feed[node.name].shape)
        if not recorded or not set(recorded) <= set(outputs):
            raise ValueError(f"sample {k} has outputs {sorted(recorded)}, the model {outputs}")


def _check_sizes(k: int, node: NodeArg, shape: tuple[int, ...]) -> None:
    declared = fixed_dims(node)
    fits = len(shape) == len(declared) and all(
        want is None or want == got for want, got in zip(declared, shape, strict=True)
    )
    if not fits:
        takes = [-1 if d is None else d for d in declared]
        raise ValueError(
            f"sample {k} input {node.name!r} has shape {list(shape)}; the model declares {takes} "
            "(-1: any size): export the model again"
        )


def replay(
    samples: list[Sample], run: Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]
) -> float:
    """The largest difference from the recorded outputs; SelfTestFailed past the tolerance."""
    worst = 0.0
    for k, (feed, recorded) in enumerate(samples):
        got = run(feed)
        for name, want in recorded.items():
            if got[name].shape != want.shape:
                raise SelfTestFailed(
                    f"sample {k}: output {name!r} has shape {got[name].shape}, recorded "
                    f"{want.shape}"
                )
            diff = float(np.max(np.abs(got[name].astype(np.float64) - want), initial=0.0))
            if not diff <= SCORE_TOLERANCE:  # NaN fails too
                raise SelfTestFailed(
                    f"sample {k}: output {name!r} differs from the recorded by {diff:.3g} "
                    f"(tolerance {SCORE_TOLERANCE:g})"
                )
            worst = max(worst, diff)
    return worst
