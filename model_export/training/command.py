"""`python -m model_export train`: train on a COCO dataset, evaluate, write the model card."""

import argparse
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import keras

from model_export.dataset.build import build_dataset
from model_export.dataset.coco import load_coco
from model_export.model import ModelSpec, ProposalSpec, build_region_classifier
from model_export.training.augment import Augmentation
from model_export.training.chance import chance_warning
from model_export.training.evaluate import evaluate
from model_export.training.heads import proposal_layer
from model_export.training.loop import train
from model_export.training.record import TrainingRecord, TrainingRun, model_card, record_path
from model_export.training.samples import build_samples
from model_export.training.warm_start import copy_matching_weights

DEFAULT_DATA = Path("data/digits")
PROPOSAL_SETTINGS = ("anchor_sizes", "anchor_ratios", "pre_nms", "post_nms", "iou_threshold")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data",
        type=Path,
        default=DEFAULT_DATA,
        help="dataset folder (default: the digit scenes, generated when missing)",
    )
    parser.add_argument("--train-annotations", default="instances_train.json")
    parser.add_argument("--test-annotations", default="instances_test.json")
    parser.add_argument("--out", type=Path, default=Path("models/region_classifier.keras"))
    parser.add_argument("--card", type=Path, default=Path("models/MODEL_CARD.md"))
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--limit", type=int, default=None, help="use at most this many images")
    parser.add_argument("--superpixel-eval-images", type=int, default=100)
    parser.add_argument("--widths", type=int, nargs=3, default=ModelSpec.widths)
    parser.add_argument("--head-width", type=int, default=ModelSpec.head_width)
    parser.add_argument("--embedding", type=int, default=ModelSpec.embedding)
    parser.add_argument(
        "--context",
        type=int,
        nargs="*",
        default=list(ModelSpec.context),
        help="dilation rates of the superpixel head's context blocks (none: no blocks)",
    )
    parser.add_argument(
        "--proposal-head",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="a region proposal network on the backbone (layers rpn*): proposals mode runs the "
        "model's own proposals instead of selective search (default: on)",
    )
    parser.add_argument(
        "--anchor-sizes",
        type=float,
        nargs="+",
        default=list(ProposalSpec.anchor_sizes),
        help="the proposal head's anchors: sqrt of their area, in pixels",
    )
    parser.add_argument(
        "--anchor-ratios",
        type=float,
        nargs="+",
        default=list(ProposalSpec.anchor_ratios),
        help="the proposal head's anchors: height / width",
    )
    parser.add_argument(
        "--proposal-dilations",
        type=int,
        nargs="+",
        default=list(ProposalSpec.dilations),
        help="dilation rates of the proposal head's 3x3 convolutions, one layer each",
    )
    parser.add_argument("--proposal-width", type=int, default=ProposalSpec.width)
    parser.add_argument(
        "--max-proposals",
        type=int,
        default=ProposalSpec.post_nms,
        help="the most proposals the head keeps per image, after NMS",
    )
    parser.add_argument("--seed", type=int, default=0)
    start = parser.add_mutually_exclusive_group()
    start.add_argument(
        "--init", type=Path, help="start from this trained .keras model (fine-tuning)"
    )
    start.add_argument(
        "--warm-start",
        type=Path,
        help="build the model from the options above, with the weights of this trained .keras "
        "model in every layer of the same name and shape (new layers start fresh)",
    )
    parser.add_argument(
        "--train-only",
        nargs="+",
        metavar="PREFIX",
        help="train only the layers whose names start with one of these (the rest keep their "
        "weights), e.g. `context sp_embed` for the superpixel head alone",
    )
    parser.add_argument("--learning-rate", type=float, default=2e-3, help="peak, cosine decay")
    parser.add_argument(
        "--augment",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="warp, recolour and re-draw rois of every crop each epoch (default: on)",
    )


def run(args: argparse.Namespace) -> None:
    start = time.monotonic()
    keras.utils.set_random_seed(args.seed)
    if args.data == DEFAULT_DATA and not (args.data / args.train_annotations).exists():
        print(f"{args.data} not found: generating the default digit scenes", file=sys.stderr)
        build_dataset(args.data, train_images=1500, test_images=300, seed=args.seed)
    train_set = load_coco(args.data / args.train_annotations, args.data)
    test_set = load_coco(args.data / args.test_annotations, args.data)
    train_images = train_set.images[: args.limit] if args.limit else train_set.images
    samples = build_samples(train_images, args.seed)
    if len(samples.images) < args.batch_size:  # no whole batch: training would not step once
        sys.exit(
            f"train: {len(samples.images)} training crops, fewer than one batch of "
            f"{args.batch_size}: lower --batch-size or add images"
        )
    spec = ModelSpec(
        classes=("background", *train_set.categories),
        widths=tuple(args.widths),
        head_width=args.head_width,
        embedding=args.embedding,
        context=tuple(args.context),
        proposals=ProposalSpec(
            anchor_sizes=tuple(args.anchor_sizes),
            anchor_ratios=tuple(args.anchor_ratios),
            width=args.proposal_width,
            dilations=tuple(args.proposal_dilations),
            post_nms=args.max_proposals,
        )
        if args.proposal_head
        else None,
    )
    model = keras.saving.load_model(args.init) if args.init else build_region_classifier(spec)
    if args.warm_start:
        fresh = copy_matching_weights(model, keras.saving.load_model(args.warm_start))
        print(
            f"warm start from {args.warm_start}; fresh layers: {fresh or 'none'}", file=sys.stderr
        )
    if args.train_only:
        train_only(model, args.train_only)
    augmentation = Augmentation() if args.augment else None
    train(model, samples, args.epochs, args.batch_size, args.seed, augmentation, args.learning_rate)
    test_images = test_set.images[: args.limit] if args.limit else test_set.images
    foreground = len(train_set.categories)
    metrics = evaluate(model, test_images, args.superpixel_eval_images, foreground)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    model.save(args.out)
    record = TrainingRecord(
        name=args.out.stem,
        version=time.strftime("%Y%m%d"),
        classes=list(spec.classes),
        dataset=str(args.data),
        train_images=len(train_images),
        train_crops=len(samples.images),
        test_images=len(test_images),
        epochs=args.epochs,
        seed=args.seed,
        seconds=time.monotonic() - start,
        metrics=metrics,
        command=reproduce_command(args),
        earlier_runs=earlier_runs(args.init or args.warm_start),
        proposal_head=proposal_head(model),
    )
    record.save(args.out)
    args.card.write_text(model_card(record))
    print(
        f"held-out box accuracy {metrics.box_accuracy:.4f} (chance {metrics.box_chance:.4f}), "
        f"superpixel accuracy {metrics.superpixel_accuracy:.4f}; wrote {args.out} and {args.card}",
        file=sys.stderr,
    )
    warning = chance_warning(metrics.box_accuracy, metrics.box_chance)
    if warning:
        print(warning, file=sys.stderr)


def train_only(model: keras.Model, prefixes: list[str]) -> None:
    """Freeze every layer whose name starts with none of `prefixes`."""
    for layer in model.layers:
        layer.trainable = layer.name.startswith(tuple(prefixes))
    trained = [layer.name for layer in model.layers if layer.trainable and layer.weights]
    if not trained:
        sys.exit(f"train: no layer with weights starts with {prefixes}")
    print(f"training only {trained}", file=sys.stderr)


def proposal_head(model: keras.Model) -> dict[str, Any] | None:
    """The settings of the model's RegionProposals layer, if it has one."""
    layer = proposal_layer(model)
    if layer is None:
        return None
    config = layer.get_config()
    return {name: config[name] for name in PROPOSAL_SETTINGS}


def earlier_runs(start: Path | None) -> list[TrainingRun]:
    """The runs that made the model this one starts from, when they left a record."""
    if start is None or not record_path(start).exists():
        return []
    return TrainingRecord.load(start).runs()


def reproduce_command(args: argparse.Namespace) -> str:
    """The `train` command line with every option spelled out, ready to paste."""
    words = ["python", "-m", "model_export", "train"]
    for name, value in vars(args).items():
        flag = "--" + name.replace("_", "-")
        if name == "command" or value is None:
            continue
        if isinstance(value, bool):
            words.append(flag if value else "--no-" + flag[2:])
        elif isinstance(value, list | tuple):
            words += [flag, *(str(v) for v in value)]
        else:
            words += [flag, str(value)]
    return shlex.join(words)
