"""What a training run leaves beside the .keras file: a JSON record and the model card."""

import json
import os
import platform
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from model_export.training.chance import chance_warning
from model_export.training.evaluate import Metrics

DIGITS_DATA = """Scenes are 128 to 1024 px, with
digits 16 to 96 px tall composed from the UCI handwritten digits in scikit-learn, over flat,
gradient, noisy, cluttered and photographic backgrounds. The split is by digit sample: no test
digit appears in a training scene."""


@dataclass(frozen=True)
class TrainingRun:
    """One `train` command and what it took."""

    command: str
    epochs: int
    seconds: float


@dataclass(frozen=True)
class TrainingRecord:
    name: str
    version: str
    classes: list[str]
    dataset: str
    train_images: int
    train_crops: int
    test_images: int
    epochs: int
    seed: int
    seconds: float
    metrics: Metrics
    command: str
    earlier_runs: list[TrainingRun] = field(default_factory=list)  # behind --init/--warm-start
    proposal_head: dict[str, Any] | None = None  # its RegionProposals layer's settings

    def runs(self) -> list[TrainingRun]:
        """Every run that made this model, first first: the earlier ones made the model it
        started from (`--init` or `--warm-start`)."""
        return [*self.earlier_runs, TrainingRun(self.command, self.epochs, self.seconds)]

    def save(self, keras_path: Path) -> None:
        record_path(keras_path).write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, keras_path: Path) -> "TrainingRecord":
        data = json.loads(record_path(keras_path).read_text())
        earlier = [TrainingRun(**run) for run in data.pop("earlier_runs", [])]
        return cls(**{**data, "metrics": Metrics(**data["metrics"]), "earlier_runs": earlier})


def record_path(keras_path: Path) -> Path:
    return keras_path.with_suffix(".json")


def model_card(record: TrainingRecord) -> str:
    m = record.metrics
    warning = chance_warning(m.box_accuracy, m.box_chance)
    digits = record.classes[1:] == [str(d) for d in range(10)]
    return f"""# Model card: {record.name} {record.version}

A Fast R-CNN-style region classifier: a small convolutional backbone (stride 4, first layer a
`MaskedConv2D` with a 5x5 disc mask), a RoI-pooling head for boxes and a superpixel-pooling head
behind the residual blocks of dilated convolutions that `--context` names (the default rates
2, 4, 8 let its features see about 130 px around them), both sharing one softmax classifier
over {len(record.classes)} classes: {", ".join(record.classes)}.
Class 0 is the background.

## Data
{record.dataset}: {record.train_images} training images ({record.train_crops} crops of 128x128 px
around their objects), {record.test_images} held-out test images. {DIGITS_DATA if digits else ""}

## Held-out metrics (test images at native resolution)
{f"**{warning}**" if warning else ""}

| metric | value |
| --- | --- |
| accuracy on ground-truth boxes ({m.box_count}; background is wrong) | {m.box_accuracy:.4f} |
| chance on those boxes (uniform guess or majority class) | {m.box_chance:.4f} |
| superpixel accuracy, all ({m.superpixel_count} superpixels) | {m.superpixel_accuracy:.4f} |
| superpixel accuracy, superpixels on objects | {m.superpixel_object_accuracy:.4f} |
{proposal_rows(m)}
Superpixels are SLIC (scikit-image), labelled by the object mask covering most of their pixels.
{proposal_head_section(record.proposal_head)}
## Training
{training_runs(record)} on {platform.machine()} with {len(os.sched_getaffinity(0))} CPU cores.
Every epoch draws fresh rois
for each crop (its objects, square cells around them and jittered copies down to IoU 0.4 as
positives, backgrounds) and, unless the command below says
`--no-augment`, warps it (rotation, shear, scale), permutes, inverts and rescales its colours
(`model_export/training/augment.py`).

## Reproduce
```bash
{chr(10).join(run.command for run in record.runs())}
```
"""


def proposal_rows(m: Metrics) -> str:
    if m.proposals_per_image is None:
        return ""
    return (
        f"| proposal head: objects with a proposal at IoU >= 0.5 | {m.proposal_recall:.4f} |\n"
        f"| proposal head: objects with a proposal at IoU >= 0.7 | {m.proposal_recall_07:.4f} |\n"
        f"| proposal head: proposals per image | {m.proposals_per_image:.1f} |\n"
    )


def proposal_head_section(head: dict[str, Any] | None) -> str:
    if head is None:
        return ""
    anchors = len(head["anchor_sizes"]) * len(head["anchor_ratios"])
    return f"""
## Proposal head
A region proposal network (Faster R-CNN) on the backbone's features: 3x3 convolutions (their
dilation rates: `--proposal-dilations`), then for each of {anchors} anchors per feature cell (sizes
{", ".join(f"{s:g}" for s in head["anchor_sizes"])} px, height / width
{", ".join(f"{r:g}" for r in head["anchor_ratios"])}) an objectness logit and box deltas;
`RegionProposals` decodes them, keeps the best {head["pre_nms"]}, suppresses overlaps above IoU
{head["iou_threshold"]:g} and keeps at most {head["post_nms"]} per image, which the box head
classifies in the same pass. Trained on anchors labelled as Faster R-CNN does (positive at IoU
>= 0.7 with an object or the object's best anchor, negative below 0.3, 256 sampled per crop, at
most half positive; `model_export/training/anchor_targets.py`). Proposals mode serves these
instead of selective search.
"""


def training_runs(record: TrainingRecord) -> str:
    """How long the model trained, run by run when it was fine-tuned from an earlier one."""
    runs = record.runs()
    each = [f"{run.epochs} epochs in {run.seconds:.0f} s" for run in runs]
    if len(runs) == 1:
        return f"{each[0]} of Adam with cosine decay, seed {record.seed},"
    return (
        f"{len(runs)} runs of Adam with cosine decay, each starting from the model the one "
        f"before it wrote (`--init` or `--warm-start`): {', then '.join(each)} "
        f"({sum(r.seconds for r in runs):.0f} s in all), the last with seed {record.seed},"
    )
