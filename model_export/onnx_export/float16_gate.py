"""The float16 file's gates (`export --precision fp16`): a valid graph whose float16 nodes all
have CUDA kernels, every output within FLOAT16_TOLERANCE of Keras and the same labels.

The gate runs the file on onnxruntime's CPU provider, which has float16 kernels for every op
of the converted graph (ScatterElements stays float32, see precision.py): the gate and its tests
run on machines without a GPU. Labels are the argmax of each head's scores; where Keras's two
best scores are closer than the tolerance allows either way (a near tie), either label passes.
A proposal head's boxes, their count and its rounding ties: regionserve_contract's
proposal_tolerance.py (the service's self-test holds the file to the same).
"""

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import onnx

from model_export.onnx_export.cuda_kernels import float16_ops_off_cuda
from model_export.onnx_export.errors import ExportError
from model_export.onnx_export.gates import cpu_session
from model_export.onnx_export.precision import to_float16
from regionserve_contract.files import FLOAT16_TOLERANCE
from regionserve_contract.proposal_tolerance import ProposalOutputs, float16_close, tied_rows

Arrays = dict[str, np.ndarray]


@dataclass(frozen=True)
class Float16Parity:
    batch: int
    worst: dict[str, float]  # largest |keras - fp16| per output
    outside: dict[str, int]  # values past the tolerance, per output
    labels_changed: int  # regions whose label differs, near ties left out
    near_ties: int

    @property
    def ok(self) -> bool:
        return not any(self.outside.values()) and self.labels_changed == 0

    def __str__(self) -> str:
        worst = ", ".join(f"{name} {d:.2e}" for name, d in self.worst.items())
        ties = f"{self.near_ties} near ties or RoI rounding ties"
        return f"{worst}; labels changed {self.labels_changed} ({ties})"


def changed_labels(expected: np.ndarray, got: np.ndarray) -> tuple[int, int]:
    """(regions whose argmax differs outside near ties, near ties) over the last axis."""
    scores = expected.reshape(-1, expected.shape[-1]).astype(np.float64)
    if scores.shape[-1] < 2:
        return 0, 0
    top = np.sort(scores, axis=-1)[:, -2:]
    atol, rtol = FLOAT16_TOLERANCE
    tie = top[:, 1] - top[:, 0] <= 2 * (atol + rtol * np.abs(top[:, 1]))
    differs = scores.argmax(-1) != got.reshape(scores.shape).argmax(-1)
    return int(np.sum(differs & ~tie)), int(np.sum(tie))


def float16_parity(
    got: Arrays,
    expected: Arrays,
    heads: list[str],
    batch: int,
    proposals: ProposalOutputs | None = None,
) -> Float16Parity:
    """Every output within FLOAT16_TOLERANCE (a proposal head's: proposal_tolerance.py),
    labels of `heads` and of the proposals equal outside near ties and rounding ties."""
    worst, outside, changed = {}, {}, 0
    tied = tied_rows(expected, proposals)
    ties = int(np.sum(tied))
    for name, want in expected.items():
        have = got[name]
        if have.shape != want.shape:
            worst[name], outside[name] = float("inf"), max(want.size, 1)
            continue
        difference = np.abs(have.astype(np.float64) - want)
        worst[name] = float(np.max(np.nan_to_num(difference, nan=np.inf), initial=0.0))
        outside[name] = int(np.sum(~float16_close(name, have, expected, proposals)))
        scored = proposals is not None and name == proposals.scores
        if (name in heads or scored) and want.size:
            kept = ~tied if scored and len(tied) == len(want) else np.ones(len(want), bool)
            more, near = changed_labels(want[kept], have[kept])
            changed, ties = changed + more, ties + near
    return Float16Parity(batch, worst, outside, changed, ties)


def check_float16(
    data: bytes,
    feeds: list[Arrays],
    expected: list[Arrays],
    heads: list[str],
    proposals: ProposalOutputs | None = None,
) -> list[Float16Parity]:
    """ExportError naming the first sample past the tolerance or with a changed label."""
    session = cpu_session(data)
    results = []
    for feed, want in zip(feeds, expected, strict=True):
        got = dict(zip(list(want), session.run(list(want), feed), strict=True))
        batch = len(next(iter(feed.values())))
        results.append(float16_parity(got, want, heads, batch, proposals))
    for k, result in enumerate(results):
        if not result.ok:
            atol, rtol = FLOAT16_TOLERANCE
            raise ExportError(
                f"the float16 file differs from Keras on sample {k} at batch {result.batch} "
                "(tolerance "
                f"{atol:g} + {rtol:g} x |score|, labels equal; proposals as many, edges within "
                f"{atol:g} px + {rtol:g} x side): {result}"
            )
    return results


def float16_file(
    proto: onnx.ModelProto,
    coordinate_inputs: list[str],
    feeds: list[Arrays],
    expected: list[Arrays],
    heads: Mapping[str, str],
) -> tuple[bytes, list[Float16Parity]]:
    """The float16 variant of `proto` (the CUDA file) when every gate passes."""
    half = to_float16(proto, coordinate_inputs)
    try:
        onnx.checker.check_model(half, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as error:
        first_line = str(error).strip().splitlines()[0]
        raise ExportError(f"onnx.checker rejected the float16 file: {first_line}") from error
    off_cuda = float16_ops_off_cuda(half)
    if off_cuda:
        raise ExportError(f"float16 nodes without a CUDA float16 kernel: {off_cuda[:5]}")
    data = half.SerializeToString()
    props = {p.key: p.value for p in proto.metadata_props}
    proposals = ProposalOutputs.from_metadata(props)
    return data, check_float16(data, feeds, expected, list(heads.values()), proposals)
