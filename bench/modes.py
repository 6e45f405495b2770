"""`bench modes`: each mode through the service's own preparation, onnxruntime sessions and
regions code, one request at a time, on 512x512 scenes with the shipped model; latency and CPU
per request against boxes mode in the same run, before and after issue 28 (the whole graph vs
the session pruned to the mode's head; scikit-image's SLIC vs the service's segmentation; the
old selective-search settings vs the new), and proposals' recall and precision on the
independent evaluation scenes for the classical proposer, old settings against new."""

import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import numpy as np
from skimage.segmentation import slic

from bench.proposals import scenes as proposal_scenes
from bench.report import table, write_section
from bench.scenes import request_images
from model_export.evaluation.measure import ServedModel, served_proposals
from model_export.evaluation.scenes import EvalScene
from model_export.training.boxes import box_iou
from service.inference.predictor import Predictor
from service.inference.sessions import WorkerSessions
from service.regions import superpixels
from service.regions.labels import (
    box_regions,
    proposal_filter,
    proposal_regions,
    superpixel_regions,
)
from service.regions.prepare import prepare_request
from service.regions.request import RegionRequest
from service.settings import Settings

MODEL = Path("models/region_classifier.onnx")
SCENES, BOXES, ROUNDS = 4, 32, 2  # 512x512 scenes; the boxes mode's boxes per request
OLD_PROPOSALS = {"proposal_side": 512, "max_proposals": 1500}  # before issue 28, still default
# Measured, not adopted: 0.31x the time, recall 0.05 lower on plain and 0.03 on cluttered scenes.
SMALL_PROPOSALS = {"proposal_side": 256, "max_proposals": 1500}


def scikit_slic(pixels: np.ndarray, area: int, compactness: float, limit: int) -> np.ndarray:
    """Superpixels as the service made them before issue 28."""
    count = min(max(round(pixels.shape[0] * pixels.shape[1] / area), 1), limit)
    ids = slic(pixels, n_segments=count, compactness=compactness, start_label=0)
    return np.asarray(ids, np.int32)


@contextmanager
def old_segmentation(old: bool) -> Iterator[None]:
    if not old:
        yield
        return
    with mock.patch.object(superpixels, "slic_superpixels", scikit_slic):
        yield


@dataclass(frozen=True)
class Setup:
    label: str
    mode: str
    pruned: bool  # sessions pruned per head, else the whole graph for every mode
    old_segmentation: bool = False
    proposals: dict[str, int] | None = None  # settings of the search; None: the defaults


SETUPS = (
    Setup("boxes (32 boxes), whole graph (before)", "boxes", False),
    Setup("boxes (32 boxes), pruned session (now)", "boxes", True),
    Setup("superpixels, whole graph, scikit-image SLIC (before)", "superpixels", False, True),
    Setup("superpixels, pruned session, scikit-image SLIC", "superpixels", True, True),
    Setup("superpixels, pruned session, new segmentation (now)", "superpixels", True),
    Setup("proposals, whole graph, 512 px / 1500 kept (before)", "proposals", False),
    Setup("proposals, pruned session, 512 px / 1500 kept (now)", "proposals", True),
    Setup("proposals, pruned, 256 px (not adopted)", "proposals", True, False, SMALL_PROPOSALS),
)
BASELINE = 1  # boxes mode as served now


@dataclass
class Samples:
    wall_ms: list[float]
    cpu_ms: list[float]
    inference_ms: list[float]


class Runner:
    """One setup: its settings and predictor; `one(image, boxes)` serves one request."""

    def __init__(self, setup: Setup) -> None:
        self.setup = setup
        self.settings = Settings(model_path=MODEL).model_copy(update=setup.proposals or {})
        self.predictor = Predictor.from_settings(self.settings)
        if not setup.pruned:
            self.predictor.workers = [WorkerSessions(w.whole) for w in self.predictor.workers]
        self.rule = proposal_filter(self.settings)
        self.samples = Samples([], [], [])

    def one(self, image: bytes, boxes: list, record: bool = True) -> None:
        mode, info = self.setup.mode, self.predictor.info
        request = RegionRequest(image, boxes if mode == "boxes" else None, 3, mode)
        wall, cpu = time.perf_counter(), time.process_time()
        with old_segmentation(self.setup.old_segmentation):
            prepared = prepare_request(info, self.settings, request, mode)
        inferred = time.perf_counter()
        scores = self.predictor.run([prepared.item])[0]
        inference = time.perf_counter() - inferred
        if mode == "boxes":
            box_regions(info, prepared.boxes, scores.rois, 3)
        elif mode == "proposals":
            proposal_regions(info, prepared.boxes, scores.rois, 3, self.rule)
        else:
            masks = [prepared.masks[s] for s in prepared.seen]
            superpixel_regions(info, masks, scores.superpixels[prepared.seen], 3)
        if record:
            self.samples.wall_ms.append((time.perf_counter() - wall) * 1e3)
            self.samples.cpu_ms.append((time.process_time() - cpu) * 1e3)
            self.samples.inference_ms.append(inference * 1e3)


def latency_table() -> str:
    requests = request_images(SCENES, 512, BOXES, seed=28)
    runners = [Runner(setup) for setup in SETUPS]
    for runner in runners:
        runner.one(*requests[0], record=False)  # warm
    for r in range(ROUNDS):
        for n, (image, boxes) in enumerate(requests):
            for runner in runners:  # interleaved: load on the machine falls on every setup alike
                runner.one(image, boxes)
            print(f"modes bench: round {r + 1}, scene {n + 1}", file=sys.stderr, flush=True)
    med = [{k: statistics.median(v) for k, v in vars(r.samples).items()} for r in runners]
    base = med[BASELINE]
    rows = [
        [
            setup.label,
            f"{m['wall_ms']:.1f}",
            f"{m['cpu_ms']:.1f}",
            f"{m['inference_ms']:.1f}",
            f"{m['wall_ms'] / base['wall_ms']:.2f}x",
            f"{m['inference_ms'] / base['inference_ms']:.2f}x",
        ]
        for setup, m in zip(SETUPS, med, strict=True)
    ]
    header = [
        "mode, sessions, preparation",
        "median ms per request",
        "median CPU ms per request",
        "median inference ms",
        "latency vs boxes mode (now)",
        "inference vs boxes mode (now)",
    ]
    return table(header, rows)


@dataclass(frozen=True)
class ProposalQuality:
    recall_plain: float
    recall_cluttered: float
    covered_cluttered: float  # digits with a searched box at IoU >= 0.5, any label
    precision: float  # answered regions at IoU >= 0.5 with some digit
    median_ms: float


def proposal_quality(model: ServedModel, drawn: list[EvalScene]) -> ProposalQuality:
    found = {False: [0, 0], True: [0, 0]}  # cluttered -> [found, digits]
    covered = regions_on = regions_all = 0
    seconds = []
    for n, scene in enumerate(drawn):
        start = time.perf_counter()
        boxes, regions = served_proposals(model, scene.image)
        seconds.append(time.perf_counter() - start)
        tight = np.asarray([d.tight for d in scene.digits], float).reshape(-1, 4)
        answered = np.asarray([r.box for r in regions], float).reshape(-1, 4)
        hit = box_iou(tight, answered) >= 0.5
        right = np.asarray([str(d.label) for d in scene.digits])[:, None] == np.asarray(
            [r.label for r in regions], str
        )
        cluttered = n >= len(drawn) // 2
        found[cluttered][0] += int((hit & right).any(axis=1).sum())
        found[cluttered][1] += len(scene.digits)
        if cluttered:
            covered += int((box_iou(tight, boxes.reshape(-1, 4)) >= 0.5).any(axis=1).sum())
        regions_on += int(hit.any(axis=0).sum())
        regions_all += len(regions)
    return ProposalQuality(
        found[False][0] / found[False][1],
        found[True][0] / found[True][1],
        covered / found[True][1],
        regions_on / max(regions_all, 1),
        statistics.median(seconds) * 1e3,
    )


def proposals_table() -> str:
    drawn = proposal_scenes()
    base = Settings(model_path=MODEL)
    old = proposal_quality(ServedModel(base.model_copy(update=OLD_PROPOSALS)), drawn)
    new = proposal_quality(ServedModel(base.model_copy(update=SMALL_PROPOSALS)), drawn)
    rows = [
        [label, f"{q.recall_plain:.3f}", f"{q.recall_cluttered:.3f}", f"{q.covered_cluttered:.3f}",
         f"{q.precision:.3f}", f"{q.median_ms:.0f}", f"{q.median_ms / old.median_ms:.2f}x"]
        for label, q in (
            (f"{OLD_PROPOSALS['proposal_side']} px, {OLD_PROPOSALS['max_proposals']} kept "
             "(before and now)", old),
            (f"{SMALL_PROPOSALS['proposal_side']} px, {SMALL_PROPOSALS['max_proposals']} kept "
             "(not adopted)", new),
        )
    ]  # fmt: skip
    header = [
        "selective search",
        "recall, plain",
        "recall, cluttered",
        "cluttered digits with a searched box at IoU >= 0.5",
        "precision (regions on a digit)",
        "median ms per image",
        "vs 512 px",
    ]
    return table(header, rows)


def main(write: Callable[[str, str, str], None] = write_section) -> None:
    latency = latency_table()
    quality = proposals_table()
    body = (
        f"{MODEL}, CPU provider, the service's default sessions, one request at a time through "
        f"its own preparation, sessions and regions code (no HTTP), {SCENES} PNG scenes of "
        f"512x512 with {BOXES} boxes each in boxes mode, {ROUNDS} rounds, setups interleaved. "
        "CPU ms: the process's CPU time per request (onnxruntime's threads included). "
        "Inference: the onnxruntime run alone; the pruned boxes session is the model before "
        "its context blocks (the RoI head on the backbone), node for node.\n\n"
        + latency
        + "\n\nClassical proposals (models without a proposal head) on the independent "
        "evaluation scenes (`bench proposals`' 30 plain and 30 cluttered scenes, seed 1234, "
        "4 digits of 40 to 90 px): a digit is found when a region of the answer has IoU >= 0.5 "
        "with its tight box and its label; precision: the answer's regions at IoU >= 0.5 with "
        "some digit. Time: search, inference and NMS per image.\n\n" + quality
    )
    write("modes", "Modes: each mode's cost against boxes mode, before and after", body)
