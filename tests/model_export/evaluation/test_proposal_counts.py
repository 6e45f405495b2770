"""Proposals' recall and precision from one place (ProposalCounts), on hand-made scenes."""

import numpy as np

from model_export.evaluation.measure import ProposalCounts, proposal_counts
from model_export.evaluation.scenes import EvalDigit, EvalScene
from service.regions.answer import Region


def digit(label: int, cell: list[int], tight: list[int]) -> EvalDigit:
    return EvalDigit(label, "bicubic", np.array(cell), np.array(tight), np.zeros((100, 100), bool))


SCENE = EvalScene(
    np.zeros((100, 100, 3), np.uint8),
    [digit(3, [0, 0, 40, 40], [10, 10, 30, 30]), digit(7, [50, 50, 90, 90], [60, 60, 80, 80])],
)


def region(box: tuple[float, float, float, float], label: str) -> Region:
    return Region(0, box, label, 0.9, ())


def test_a_region_counts_on_a_digit_at_iou_half_whatever_its_label() -> None:
    regions = [
        region((10, 10, 30, 30), "3"),  # the 3, right
        region((60, 60, 80, 80), "1"),  # on the 7, wrong label: on a digit, not found
        region((10, 10, 30, 50), "3"),  # IoU 0.5 with the 3: on a digit
        region((10, 10, 31, 51), "3"),  # IoU 400 / 861 < 0.5: off
        region((0, 60, 20, 80), "5"),  # clutter
    ]
    boxes = np.array([[10, 10, 30, 30], [60, 60, 80, 80], [0, 60, 20, 80]], float)
    counts = proposal_counts(SCENE, boxes, regions)
    assert counts == ProposalCounts(digits=2, covered=2, found=1, regions=5, on_digit=3)
    assert counts.recall == 0.5 and counts.precision == 0.6


def test_no_region_is_recall_zero_and_nothing_off_an_object() -> None:
    counts = proposal_counts(SCENE, np.zeros((0, 4)), [])
    assert counts == ProposalCounts(digits=2, covered=0, found=0, regions=0, on_digit=0)
    assert counts.recall == 0.0 and counts.precision == 1.0


def test_counts_add_up_over_scenes() -> None:
    one = ProposalCounts(4, 3, 2, 10, 5)
    two = ProposalCounts(4, 4, 4, 6, 6)
    total = sum([one, two], ProposalCounts(0, 0, 0, 0, 0))
    assert total == ProposalCounts(8, 7, 6, 16, 11)
    assert total.recall == 0.75 and total.precision == 11 / 16
