"""A model's own proposals (its RegionProposals head, metadata `proposal_head`), per image.

The head's outputs are (R, 5) proposals [batch_index, x1, y1, x2, y2] in working pixels with
inclusive ends, image by image, their (R,) objectness and their (R, K) class scores.
"""

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from service.inference.model_info import ModelInfo

if TYPE_CHECKING:  # feed.py's Scores holds HeadProposals
    from service.inference.feed import ModelInput, Scores


@dataclass(frozen=True)
class HeadProposals:
    rois: np.ndarray  # (P, 4) [x1, y1, x2, y2] in working pixels, inclusive ends
    objectness: np.ndarray  # (P,)
    scores: np.ndarray  # (P, K) class scores


def output_names(info: ModelInfo) -> list[str]:
    """The head's outputs: proposals, objectness, class scores."""
    assert info.proposal_head is not None
    return [info.proposal_head[part] for part in ("proposals", "objectness", "scores")]


def split_proposals(
    info: ModelInfo, batch_size: int, outputs: dict[str, np.ndarray]
) -> list[HeadProposals]:
    """Each image's proposals from the head's outputs by name."""
    proposals, objectness, scores = (outputs[name] for name in output_names(info))
    image = proposals[:, 0].astype(np.int64)
    return [
        HeadProposals(proposals[image == b, 1:], objectness[image == b], scores[image == b])
        for b in range(batch_size)
    ]


def wants_proposals(info: ModelInfo, batch: Sequence["ModelInput"]) -> bool:
    """An item of the batch asks for the model's own proposals (and the model has a head)."""
    return info.proposal_head is not None and any(item.propose for item in batch)


def with_proposals(
    info: ModelInfo, scores: list["Scores"], outputs: dict[str, np.ndarray]
) -> list["Scores"]:
    """Each image's scores with its proposals from the head's outputs by name."""
    found = split_proposals(info, len(scores), outputs)
    return [replace(s, proposals=p) for s, p in zip(scores, found, strict=True)]
