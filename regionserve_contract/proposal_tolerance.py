"""How close a float16 file's proposal head must be to Keras: its boxes held to a pixel
tolerance, and the proposals whose class scores may move because a box sits on a RoI rounding
edge. Shared by the export's float16 gate and the service's self-test.

Boxes: the head's deltas come from float16 convolutions, held like any output to
FLOAT16_TOLERANCE (5e-3 + 5e-3 x |delta|); a delta error e moves an edge by e x the anchor's
side, so an edge may move by 5e-3 px + 5e-3 x the box's side (0.16 px for a 32 px box, 2.6 px
for 512 px). The count must be equal: a float16 file that picks another proposal set (a near
tie in objectness at TopK's cut or inside NonMaxSuppression) fails, since clients would see
other proposals.

Rounding ties: RoI pooling rounds `coord / stride`; a Keras edge within the box tolerance of a
half-way point may round the other way in float16 and pool other cells, so that proposal's
class scores are not held to the score tolerance (counted as ties, like labels' near ties).
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from regionserve_contract.files import FLOAT16_TOLERANCE, within_tolerance
from regionserve_contract.metadata import FP16, Key


@dataclass(frozen=True)
class ProposalOutputs:
    boxes: str  # (R, 5) [image, x1, y1, x2, y2], inclusive ends
    objectness: str
    scores: str  # (R, K) class scores of the proposals
    stride: int

    @classmethod
    def of(cls, head: Mapping[str, str] | None, stride: int) -> "ProposalOutputs | None":
        """From the contract's proposal_head ({"proposals", "objectness", "scores"})."""
        if head is None:
            return None
        return cls(head["proposals"], head["objectness"], head["scores"], stride)

    @classmethod
    def from_metadata(cls, props: Mapping[str, str]) -> "ProposalOutputs | None":
        if Key.PROPOSAL_HEAD not in props:
            return None
        return cls.of(json.loads(props[Key.PROPOSAL_HEAD]), int(props[Key.STRIDE]))


def box_tolerance(boxes: np.ndarray) -> np.ndarray:
    """Pixels each edge of (R, 5) boxes may move: atol + rtol x the box's side on that axis."""
    atol, rtol = FLOAT16_TOLERANCE
    sides = boxes[:, 3:5].astype(np.float64) - boxes[:, 1:3] + 1  # width, height
    return atol + rtol * np.concatenate([np.zeros((len(boxes), 1)), sides, sides], axis=1)


def rounding_ties(boxes: np.ndarray, stride: int) -> np.ndarray:
    """(R,) proposals with an edge within box_tolerance of a half-way point of `/ stride`."""
    cells = boxes[:, 1:].astype(np.float64) / stride
    to_half_way = np.abs(cells - np.floor(cells) - 0.5) * stride
    return np.any(to_half_way <= box_tolerance(boxes)[:, 1:], axis=1)


def tied_rows(recorded: Mapping[str, np.ndarray], proposals: ProposalOutputs | None) -> np.ndarray:
    """(R,) rows of the recorded proposal scores that a rounding tie may move; empty without
    a proposal head or its recorded boxes."""
    if proposals is None or proposals.boxes not in recorded:
        return np.zeros(0, bool)
    return rounding_ties(recorded[proposals.boxes], proposals.stride)


def float16_close(
    name: str,
    got: np.ndarray,
    recorded: Mapping[str, np.ndarray],
    proposals: ProposalOutputs | None,
) -> np.ndarray:
    """Elementwise: output `name` of a float16 file is as close to the recorded (Keras) one as
    it must be; same shapes. Proposal boxes: box_tolerance; proposal scores: rounding ties free."""
    want = recorded[name]
    if proposals is not None and name == proposals.boxes:
        moved = np.abs(got.astype(np.float64) - want)
        return (moved <= box_tolerance(want)) | (got == want)
    close = within_tolerance(want, got, FP16)
    if proposals is not None and name == proposals.scores:
        ties = tied_rows(recorded, proposals)
        if len(ties) == len(want):
            close |= ties.reshape(-1, *[1] * (want.ndim - 1))
    return close
