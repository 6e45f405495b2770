"""Proposals mode against how many of selective search's boxes it keeps (`max_proposals`):
recall on the independent evaluation scenes and the latency of the whole mode, each setting
through the service's own preparation, onnxruntime session and regions code, on the same
scenes; ratios against the fewest boxes kept, measured in the same run."""

import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from bench.report import table, write_section
from model_export.dataset.digits import TEST_FRACTION, split_digits
from model_export.evaluation.measure import (
    ProposalCounts,
    ServedModel,
    proposal_counts,
    served_proposals,
)
from model_export.evaluation.scenes import EvalScene, proposals_scene
from service.settings import Settings

MODEL = Path("models/region_classifier.onnx")
KEPT = (200, 600, 1500)
SCENES = 30  # of each kind, as `python -m model_export evaluate` draws them
SEED = 1234


def scenes() -> list[EvalScene]:
    _, pool = split_digits(TEST_FRACTION, seed=0)
    rng = np.random.default_rng(SEED)
    return [
        proposals_scene(rng, pool, cluttered) for cluttered in (False, True) for _ in range(SCENES)
    ]


def run_scene(model: ServedModel, scene: EvalScene) -> tuple[float, ProposalCounts]:
    """Seconds the mode took on the scene (search, inference, NMS), and what it found."""
    start = time.perf_counter()
    boxes, regions = served_proposals(model, scene.image)
    return time.perf_counter() - start, proposal_counts(scene, boxes, regions)


def share(counts: list[ProposalCounts], field: str) -> str:
    """`field` of the digits, summed over scenes, as a share of all their digits."""
    return f"{sum(getattr(c, field) for c in counts) / sum(c.digits for c in counts):.3f}"


def main() -> None:
    default = Settings.model_fields["max_proposals"].default
    kept = sorted({default, *KEPT})  # the fewest is the baseline
    models = {k: ServedModel(Settings(model_path=MODEL, max_proposals=k)) for k in kept}
    drawn = scenes()
    seconds: dict[int, list[float]] = {k: [] for k in kept}
    counts: dict[tuple[int, bool], list[ProposalCounts]] = defaultdict(list)
    for n, scene in enumerate(drawn):
        cluttered = n >= SCENES
        for k in kept:  # interleaved, so that load on the machine falls on every setting alike
            took, found = run_scene(models[k], scene)
            seconds[k].append(took)
            counts[k, cluttered].append(found)
        print(f"proposals bench: scene {n + 1}/{len(drawn)}", file=sys.stderr, flush=True)
    base = statistics.median(seconds[kept[0]])
    rows = []
    for k in kept:
        plain, clutter = counts[k, False], counts[k, True]
        median = statistics.median(seconds[k])
        rows.append(
            [
                f"{k}{' (default)' if k == default else ''}",
                share(plain, "found"),
                share(clutter, "found"),
                share(clutter, "covered"),
                f"{median * 1e3:.0f}",
                f"{median / base:.2f}x",
            ]
        )
    header = [
        "max_proposals",
        "recall, plain",
        "recall, cluttered",
        "cluttered digits with a kept box at IoU >= 0.5",
        "median ms per image (search, inference, NMS)",
        f"vs {kept[0]}",
    ]
    body = (
        f"{MODEL}, {SCENES} plain and {SCENES} cluttered evaluation scenes (seed {SEED}; 4 digits "
        "of 40 to 90 px, 300 to 512 px), CPU provider, one image at a time. Recall: a digit is "
        "found when a region of the answer has IoU >= 0.5 with its tight box and its label.\n\n"
        + table(header, rows)
    )
    write_section("proposals", "Proposals mode: recall and latency by boxes kept", body)
