"""The shipped model through the service's own code (preparation, onnxruntime, regions) on
evaluation scenes: labels of drawn boxes, of served superpixels, and proposals recall."""

import io
from collections.abc import Sequence
from dataclasses import astuple, dataclass

import numpy as np
from PIL import Image
from pycocotools import mask as coco_mask

from model_export.evaluation.boxes import iou, loose_box, shifted_box
from model_export.evaluation.scenes import EvalScene
from model_export.training.boxes import box_iou
from service.inference.feed import Scores
from service.inference.predictor import Predictor
from service.regions.answer import Region
from service.regions.labels import proposal_filter, proposal_regions
from service.regions.prepare import Prepared, prepare_request, proposal_candidates
from service.regions.request import RegionRequest
from service.settings import Settings

IOU_LEVELS = (0.8, 0.6, 0.5)
BOX_KINDS = ("tight", "cell", *(f"{k} {t}" for k in ("loose", "shifted") for t in IOU_LEVELS))


@dataclass(frozen=True)
class BoxResult:
    kind: str
    rendering: str
    iou: float  # with the tight box, after clipping to the image
    right: bool


@dataclass(frozen=True)
class SuperpixelResult:
    on_digit: bool  # the digit's ink covers over half of the superpixel
    right: bool


class ServedModel:
    """One ONNX model with the service's default settings, run on the CPU."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.predictor = Predictor(settings.model_path, ["CPUExecutionProvider"])
        self.info = self.predictor.info

    def scores(
        self, image: np.ndarray, mode: str, boxes: list | None = None
    ) -> tuple[Prepared, Scores]:
        """The scene sent as the service gets an image (a PNG: lossless) and prepared by the
        service's own path."""
        request = RegionRequest(png_bytes(image), boxes, 1, mode)
        prepared = prepare_request(self.info, self.settings, request, mode)
        return prepared, self.predictor.run([prepared.item])[0]

    def label_of(self, scores: np.ndarray) -> list[str]:
        return [self.info.classes[i] for i in scores.argmax(axis=1)]


def png_bytes(image: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(image).save(out, "PNG")
    return out.getvalue()


def drawn_boxes(rng: np.random.Generator, scene: EvalScene, kind: str) -> np.ndarray:
    height, width = scene.image.shape[:2]
    boxes = []
    for digit in scene.digits:
        if kind == "tight":
            box = digit.tight
        elif kind == "cell":
            box = digit.cell
        else:
            shape, level = kind.split()
            draw = loose_box if shape == "loose" else shifted_box
            box = draw(rng, digit.tight, float(level))
        boxes.append(np.clip(box, 0, [width, height, width, height]))
    return np.asarray(boxes).reshape(-1, 4)


def box_results(model: ServedModel, rng: np.random.Generator, scene: EvalScene) -> list:
    results = []
    for kind in BOX_KINDS:
        boxes = drawn_boxes(rng, scene, kind)
        if not len(boxes):
            continue
        _, scores = model.scores(scene.image, "boxes", boxes.tolist())
        for digit, box, label in zip(scene.digits, boxes, model.label_of(scores.rois), strict=True):
            right = label == str(digit.label)
            results.append(BoxResult(kind, digit.rendering, iou(box, digit.tight), right))
    return results


def superpixel_results(model: ServedModel, scene: EvalScene) -> list[SuperpixelResult]:
    """Every superpixel superpixels mode answers for, labelled by majority ink."""
    prepared, scores = model.scores(scene.image, "superpixels")
    labels = model.label_of(scores.superpixels[prepared.seen])
    results = []
    for sp, label in zip(prepared.seen, labels, strict=True):
        rle = prepared.masks[sp][1]
        mask = coco_mask.decode({**rle, "counts": rle["counts"].encode("ascii")}).astype(bool)
        truth, area = "background", int(mask.sum())
        for digit in scene.digits:
            if 2 * int(np.count_nonzero(digit.ink & mask)) > area:
                truth = str(digit.label)
        results.append(SuperpixelResult(truth != "background", label == truth))
    return results


@dataclass(frozen=True)
class ProposalCounts:
    """Recall and precision of proposals mode on one scene, or summed over scenes."""

    digits: int
    covered: int  # digits some proposal box has at IoU >= 0.5, whatever its label
    found: int  # digits a region of the answer has at IoU >= 0.5 with the right label
    regions: int  # regions of the answer
    on_digit: int  # regions of the answer at IoU >= 0.5 with some digit's tight box

    def __add__(self, other: "ProposalCounts") -> "ProposalCounts":
        return ProposalCounts(*(a + b for a, b in zip(astuple(self), astuple(other), strict=True)))

    @property
    def recall(self) -> float:
        return self.found / self.digits if self.digits else 0.0

    @property
    def precision(self) -> float:
        """The share of returned regions on an object (1.0 when none is returned)."""
        return self.on_digit / self.regions if self.regions else 1.0


def served_proposals(model: ServedModel, image: np.ndarray) -> tuple[np.ndarray, Sequence[Region]]:
    """Proposals mode as the service runs it: the boxes it classifies (the model's own
    proposals when it has a proposal head, else selective search's), and its regions."""
    prepared, scores = model.scores(image, "proposals")
    rule = proposal_filter(model.settings)
    boxes, classes = proposal_candidates(prepared, scores, rule.min_objectness)
    return boxes, proposal_regions(model.info, boxes, classes, 1, rule)


def proposal_counts(
    scene: EvalScene, boxes: np.ndarray, regions: Sequence[Region]
) -> ProposalCounts:
    tight = np.asarray([digit.tight for digit in scene.digits]).reshape(-1, 4)
    covered = (box_iou(tight, boxes.reshape(-1, 4)) >= 0.5).any(axis=1)
    answered = np.asarray([r.box for r in regions], float).reshape(-1, 4)
    labels = np.asarray([r.label for r in regions], str)
    same_label = np.asarray([str(d.label) for d in scene.digits], str)[:, None] == labels
    hits = box_iou(tight, answered) >= 0.5  # (digits, regions)
    found = (hits & same_label).any(axis=1)
    on_digit = hits.any(axis=0)
    return ProposalCounts(
        len(scene.digits), int(covered.sum()), int(found.sum()), len(answered), int(on_digit.sum())
    )


def proposals_found(model: ServedModel, scene: EvalScene) -> ProposalCounts:
    return proposal_counts(scene, *served_proposals(model, scene.image))
