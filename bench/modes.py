"""`bench modes`: each mode through the service's own preparation, onnxruntime sessions and
regions code, one request at a time on 512x512 scenes: latency and CPU per request against
boxes mode in the same run, superpixels and classical proposals before and after issue 28's
settings, proposals mode with the model's own proposal head when it has one and with the
classical fallback on the same model (the file with the head pruned off); then proposals'
recall and precision on the independent evaluation scenes for each proposer.

`python -m bench modes` measures the shipped model, `python -m bench modes --model=FILE` any
exported model (its own section of bench/RESULTS.md)."""

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import cv2
import numpy as np

from bench.classical_fallback import without_proposal_head
from bench.proposals import scenes as proposal_scenes
from bench.report import table, write_section
from bench.scenes import request_images
from model_export.evaluation.measure import (
    ProposalCounts,
    ServedModel,
    proposal_counts,
    served_proposals,
)
from service.inference.predictor import Predictor
from service.regions import proposals, superpixels
from service.regions.labels import (
    box_regions,
    proposal_filter,
    proposal_regions,
    superpixel_regions,
)
from service.regions.prepare import prepare_request, proposal_candidates
from service.regions.request import RegionRequest
from service.regions.superpixels import slic_superpixels
from service.settings import Settings

MODEL = Path("models/region_classifier.onnx")
SCENES, BOXES, ROUNDS = 4, 32, 2  # 512x512 scenes; the boxes mode's boxes per request
# Selective search before: OpenCV's fast mode (search_before) with these settings.
OLD_PROPOSALS = {"proposal_side": 512, "max_proposals": 1500}


def half_side_slic(pixels: np.ndarray, area: int, compactness: float, limit: int) -> np.ndarray:
    """Superpixels as the service made them before this change: 10 iterations."""
    return slic_superpixels(pixels, area, compactness, limit, iterations=10)


@contextmanager
def segmentation_before(before: bool) -> Iterator[None]:
    if not before:
        yield
        return
    with mock.patch.object(superpixels, "slic_superpixels", half_side_slic):
        yield


@contextmanager
def search_before(before: bool) -> Iterator[None]:
    """Selective search as before (with OLD_PROPOSALS' settings): OpenCV's fast mode."""
    if not before:
        yield
        return
    fast = (cv2.COLOR_BGR2HSV, cv2.COLOR_BGR2Lab)
    with mock.patch.multiple(proposals, COLOR_SPACES=fast, ONE_STRATEGY=False):
        yield


@dataclass(frozen=True)
class Setup:
    label: str
    mode: str
    classical: bool = False  # the model with its proposal head pruned off
    old_segmentation: bool = False
    proposals: dict[str, int] | None = None  # settings of the search; None: the defaults


def setups(modes: tuple[str, ...], has_head: bool) -> list[Setup]:
    """The rows the model's heads allow; boxes mode first (the baseline)."""
    new = f"{Settings().proposal_side} px / {Settings().max_proposals} kept"
    old = f"{OLD_PROPOSALS['proposal_side']} px / {OLD_PROPOSALS['max_proposals']} kept"
    rows = [Setup(f"boxes ({BOXES} boxes)", "boxes")]
    if "superpixels" in modes:
        rows += [
            Setup("superpixels, SLIC at half the side, 10 iterations (before)", "superpixels",
                  old_segmentation=True),
            Setup("superpixels, the service's segmentation (now)", "superpixels"),
        ]  # fmt: skip
    if has_head:
        rows.append(Setup("proposals, the model's own proposal head", "proposals"))
    rows += [
        Setup(f"proposals, classical fallback, {old} (before)", "proposals", True, False,
              OLD_PROPOSALS),
        Setup(f"proposals, classical fallback, {new} (now)", "proposals", True),
    ]  # fmt: skip
    return rows


@dataclass
class Samples:
    wall_ms: list[float]
    cpu_ms: list[float]
    inference_ms: list[float]


class Runner:
    """One setup: its settings and predictor; `one(image, boxes)` serves one request."""

    def __init__(self, setup: Setup, model: Path) -> None:
        self.setup = setup
        self.settings = Settings(model_path=model).model_copy(update=setup.proposals or {})
        self.predictor = Predictor.from_settings(self.settings)
        self.rule = proposal_filter(self.settings)
        self.samples = Samples([], [], [])

    def one(self, image: bytes, boxes: list, record: bool = True) -> None:
        mode, info = self.setup.mode, self.predictor.info
        request = RegionRequest(image, boxes if mode == "boxes" else None, 3, mode)
        wall, cpu = time.perf_counter(), time.process_time()
        before = self.setup.proposals == OLD_PROPOSALS
        with segmentation_before(self.setup.old_segmentation), search_before(before):
            prepared = prepare_request(info, self.settings, request, mode)
        inferred = time.perf_counter()
        scores = self.predictor.run([prepared.item])[0]
        inference = time.perf_counter() - inferred
        if mode == "boxes":
            box_regions(info, prepared.boxes, scores.rois, 3)
        elif mode == "proposals":
            candidates = proposal_candidates(prepared, scores, self.rule.min_objectness)
            proposal_regions(info, *candidates, 3, self.rule)
        else:
            masks = prepared.masks.take(prepared.seen)
            superpixel_regions(info, masks, scores.superpixels[prepared.seen], 3)
        if record:
            self.samples.wall_ms.append((time.perf_counter() - wall) * 1e3)
            self.samples.cpu_ms.append((time.process_time() - cpu) * 1e3)
            self.samples.inference_ms.append(inference * 1e3)


def latency_table(model: Path, classical: Path) -> str:
    info = Predictor(model, ["CPUExecutionProvider"]).info
    chosen = setups(info.modes, info.proposal_head is not None)
    runners = [Runner(s, classical if s.classical else model) for s in chosen]
    requests = request_images(SCENES, 512, BOXES, seed=28)
    for runner in runners:
        runner.one(*requests[0], record=False)  # warm
    for r in range(ROUNDS):
        for n, (image, boxes) in enumerate(requests):
            for runner in runners:  # interleaved: load on the machine falls on every setup alike
                runner.one(image, boxes)
            print(f"modes bench: round {r + 1}, scene {n + 1}", file=sys.stderr, flush=True)
    med = [{k: statistics.median(v) for k, v in vars(r.samples).items()} for r in runners]
    base = med[0]
    rows = [
        [
            setup.label,
            f"{m['wall_ms']:.1f}",
            f"{m['cpu_ms']:.1f}",
            f"{m['inference_ms']:.1f}",
            f"{m['wall_ms'] / base['wall_ms']:.2f}x",
            f"{m['cpu_ms'] / base['cpu_ms']:.2f}x",
        ]
        for setup, m in zip(chosen, med, strict=True)
    ]
    header = [
        "mode, proposer, preparation",
        "median ms per request",
        "median CPU ms per request",
        "median inference ms",
        "latency vs boxes mode",
        "CPU vs boxes mode",
    ]
    return table(header, rows)


@dataclass(frozen=True)
class ProposalQuality:
    plain: ProposalCounts
    cluttered: ProposalCounts
    median_ms: float  # search (or head), inference and NMS per image


def proposal_quality(proposers: dict[str, Settings]) -> dict[str, ProposalQuality]:
    """Each proposer's recall and precision summed over the plain scenes (the first half) and
    the cluttered, and its median time; proposers interleaved scene by scene."""
    drawn = proposal_scenes()
    models = {label: ServedModel(settings) for label, settings in proposers.items()}
    zero = ProposalCounts(0, 0, 0, 0, 0)
    totals = {label: [zero, zero] for label in models}
    seconds: dict[str, list[float]] = {label: [] for label in models}
    for n, scene in enumerate(drawn):
        cluttered = n >= len(drawn) // 2
        for label, model in models.items():
            with search_before(label.endswith("(before)")):
                start = time.perf_counter()
                boxes, regions = served_proposals(model, scene.image)
                seconds[label].append(time.perf_counter() - start)
            found = proposal_counts(scene, boxes, regions)
            totals[label][cluttered] = totals[label][cluttered] + found
    return {
        label: ProposalQuality(plain, cluttered, statistics.median(seconds[label]) * 1e3)
        for label, (plain, cluttered) in totals.items()
    }


def proposers(model: Path, classical: Path) -> dict[str, Settings]:
    """Each proposer of the model by label: its own head (when it has one), the classical
    fallback with the settings before and now."""
    out = {}
    if classical != model:
        out["the model's own proposal head"] = Settings(model_path=model)
    new = Settings(model_path=classical)
    out[
        f"classical, {OLD_PROPOSALS['proposal_side']} px, {OLD_PROPOSALS['max_proposals']} kept "
        "(before)"
    ] = new.model_copy(update=OLD_PROPOSALS)
    out[f"classical, {new.proposal_side} px, {new.max_proposals} kept (now)"] = new
    return out


def precision(counts: ProposalCounts) -> str:
    return f"{counts.precision:.3f} ({counts.on_digit}/{counts.regions})" if counts.regions else "-"


def proposals_table(model: Path, classical: Path) -> str:
    measured = proposal_quality(proposers(model, classical))
    base = next(q for label, q in measured.items() if label.endswith("(before)"))
    rows = [
        [label, f"{q.plain.recall:.3f}", f"{q.cluttered.recall:.3f}",
         f"{q.cluttered.covered / q.cluttered.digits:.3f}", precision(q.plain),
         precision(q.cluttered), f"{q.median_ms:.0f}",
         f"{q.median_ms / base.median_ms:.2f}x"]
        for label, q in measured.items()
    ]  # fmt: skip
    header = [
        "proposer",
        "recall, plain",
        "recall, cluttered",
        "cluttered digits with a candidate box at IoU >= 0.5",
        "precision, plain",
        "precision, cluttered",
        "median ms per image",
        "vs classical before",
    ]
    return table(header, rows)


def report(model: Path) -> str:
    with tempfile.TemporaryDirectory() as folder:
        classical = without_proposal_head(model, Path(folder))
        latency = latency_table(model, classical)
        quality = proposals_table(model, classical)
    return (
        f"{model}, CPU provider, the service's default sessions (pruned per head), one request "
        "at a time through its own preparation, sessions and regions code (no HTTP), "
        f"{SCENES} PNG scenes of 512x512 ({BOXES} boxes each in boxes mode), {ROUNDS} rounds, "
        "setups interleaved. CPU ms: the process's CPU time per request (onnxruntime's threads "
        "included). Inference: the onnxruntime run alone. Classical fallback: the same file "
        "with its proposal head pruned off (bench/classical_fallback.py), served with "
        "selective search.\n\n"
        + latency
        + "\n\nProposals on the independent evaluation scenes (`bench proposals`' 30 plain and "
        "30 cluttered scenes, seed 1234, 4 digits of 40 to 90 px): recall, a digit found when "
        "a region of the answer has IoU >= 0.5 with its tight box and its label; precision, "
        "the answer's regions at IoU >= 0.5 with some digit's tight box "
        "(model_export/evaluation/measure.py: ProposalCounts). Time: proposals, inference and "
        "NMS per image, proposers interleaved scene by scene.\n\n" + quality
    )


def main() -> None:
    """`--model=FILE` (default: the shipped model); another model's table goes into a
    section of its own."""
    parser = argparse.ArgumentParser(prog="python -m bench modes")
    parser.add_argument("--model", type=Path, default=MODEL, help="an exported .onnx file")
    model = parser.parse_known_args()[0].model
    name, title = "modes", "Modes: each mode's cost against boxes mode"
    if model != MODEL:
        name, title = f"modes-{model.stem}", f"{title}: {model.name}"
    write_section(name, title, report(model))
