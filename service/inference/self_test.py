"""The start-up checks, before the model is ready: a warm-up on the shapes each of its modes
feeds, then the self-test: the samples recorded at export (`<stem>.samples.npz`: inputs and
the Keras model's own outputs on them) replayed on every session in use, every output within
SCORE_TOLERANCE of the recorded one (a float16 file: FLOAT16_TOLERANCE, a proposal head as
regionserve_contract.proposal_tolerance says; a session pruned to some heads: its outputs).
Every file of an export (`<stem>.onnx`, the CUDA provider's
`<stem>.decomposed.onnx` and its float16 variant) shares the samples."""

import zipfile
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from regionserve_contract.files import (
    FLOAT16_TOLERANCE,
    SAMPLE_KEY,
    SCORE_TOLERANCE,
    samples_path,
    within_tolerance,
)
from regionserve_contract.metadata import FP16, FP32
from regionserve_contract.proposal_tolerance import ProposalOutputs, float16_close
from service.inference.feed import ModelInput
from service.inference.model_info import ModelInfo, ModelLoadError
from service.inference.model_inputs import NodeArg, Sample, fixed_dims

NO_SELF_TEST = "not run: no recorded samples, allowed by REGIONSERVE_ALLOW_NO_SELF_TEST"
WARM_UP_SIDE = 512  # at most, for a free side; the model's max_image_side when smaller


class Sessions(Protocol):
    """What the checks need of the predictor (`service.inference.predictor`, which imports
    this module for load_samples)."""

    info: ModelInfo
    samples: list[Sample] | None
    precision: str  # of the file the sessions run: fp16 is held to FLOAT16_TOLERANCE

    def every_session(self) -> list[Any]: ...  # onnxruntime.InferenceSession

    def feed(self, batch: list[ModelInput]) -> dict[str, np.ndarray]: ...

    def run_feed(
        self, feed: dict[str, np.ndarray], session: Any = None
    ) -> dict[str, np.ndarray]: ...


class SelfTestFailed(RuntimeError):
    """An output differs from the recorded one; the message names the sample and output."""


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
            found = SAMPLE_KEY.fullmatch(key)
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


def tolerance_text(precision: str) -> str:
    atol, rtol = FLOAT16_TOLERANCE
    return f"{atol:g} + {rtol:g} x |score|" if precision == FP16 else f"{SCORE_TOLERANCE:g}"


def replay(
    samples: list[Sample],
    run: Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]],
    precision: str = FP32,
    proposals: ProposalOutputs | None = None,
) -> float:
    """The largest difference from the recorded outputs `run` gives; SelfTestFailed past the
    tolerance, or when it gives none of them."""
    worst = 0.0
    for k, (feed, recorded) in enumerate(samples):
        got = run(feed)
        if not set(got) & set(recorded):
            raise SelfTestFailed(f"sample {k}: no recorded output among {sorted(got)}")
        for name, want in ((n, w) for n, w in recorded.items() if n in got):
            if got[name].shape != want.shape:
                raise SelfTestFailed(
                    f"sample {k}: output {name!r} has shape {got[name].shape}, recorded "
                    f"{want.shape}"
                )
            diff = float(np.max(np.abs(got[name].astype(np.float64) - want), initial=0.0))
            if precision == FP16:  # a proposal head's boxes and rounding ties: their own rule
                close = float16_close(name, got[name], recorded, proposals)
            else:
                close = within_tolerance(want, got[name], precision)
            if not np.all(close):  # NaN fails too
                raise SelfTestFailed(
                    f"sample {k}: output {name!r} differs from the recorded by {diff:.3g} "
                    f"(tolerance {tolerance_text(precision)})"
                )
            worst = max(worst, diff)
    return worst


class WarmUpFailed(RuntimeError):
    """The model refused the warm-up's inputs; the message names their shapes."""


def warm_up(model: Sessions) -> None:
    """Every session, on the shapes each of the model's modes feeds; an error names the
    shapes fed and those the model declares."""
    for session in model.every_session():
        for batch in representative_batches(model.info):
            feed = model.feed(batch)
            try:
                model.run_feed(feed, session)
            except Exception as error:  # onnxruntime raises several unrelated types
                declared = shapes({i.name: fixed_dims(i) for i in session.get_inputs()})
                raise WarmUpFailed(
                    f"the model refuses inputs {shapes(feed)} (it declares {declared}): {error}"
                ) from error


def replay_samples(model: Sessions) -> str:
    """The recorded samples on every session (SelfTestFailed past the tolerance): what
    /readyz says of it."""
    if model.samples is None:
        return NO_SELF_TEST
    sessions = model.every_session()
    proposals = ProposalOutputs.of(model.info.proposal_head, model.info.stride)
    worst = max(
        replay(model.samples, partial(model.run_feed, session=session), model.precision, proposals)
        for session in sessions
    )
    return (
        f"passed ({len(model.samples)} recorded samples, largest difference {worst:.2g}, "
        f"on {len(sessions)} sessions, tolerance {tolerance_text(model.precision)})"
    )


def shapes(arrays: Mapping[str, np.ndarray | tuple[int | None, ...]]) -> str:
    """`name [d, ...]` of each input; -1 for a free size."""
    dims = {k: v.shape if isinstance(v, np.ndarray) else v for k, v in arrays.items()}
    return ", ".join(f"{k} {[-1 if d is None else d for d in v]}" for k, v in dims.items())


def representative_batches(info: ModelInfo) -> list[list[ModelInput]]:
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
    both = ModelInput(image, rois if with_rois else no_rois, grid if with_grid else None)
    batches = [[both]]
    if with_rois:
        batches.append([ModelInput(small, rois[:1], None)] * 2)
    if with_grid and with_rois:
        batches.append([ModelInput(image, no_rois, grid)])
    return [[_with_extras(info, item) for item in batch] for batch in batches]


def _with_extras(info: ModelInfo, item: ModelInput) -> ModelInput:
    """Zeros for each extra input: image-sized axes follow the image, free ones are 1."""
    extras = {}
    for extra in info.extra_inputs:
        shape = [1 if d is None else d for d in extra.shape]
        if extra.divisor is not None:
            shape[1:3] = extra.spatial_size(*item.pixels.shape[:2])
        extras[extra.name] = np.zeros(shape, extra.dtype)
    return ModelInput(item.pixels, item.rois, item.superpixels, extras)
