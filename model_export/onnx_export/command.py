"""`python -m model_export export`: a Keras region classifier -> gated ONNX files + samples."""

import argparse
import sys
from pathlib import Path

import keras

from model_export.model import MAX_IMAGE_SIDE, PAD_VALUE
from model_export.onnx_export.errors import ExportError
from model_export.onnx_export.export import export_model
from model_export.onnx_export.loading import load_keras_model
from model_export.onnx_export.metadata import ServingSettings
from model_export.onnx_export.roles import RoleFlags
from model_export.training.record import TrainingRecord, record_path
from model_export.training.superpixels import COMPACTNESS, SUPERPIXEL_AREA
from regionserve_contract.metadata import FP32, PRECISIONS
from regionserve_contract.preprocessing import Preprocessing


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--model", type=Path, default=Path("models/region_classifier.keras"))
    add("--out", type=Path, default=Path("models/region_classifier.onnx"))
    add("--classes", type=Path, help="one class name per line (default: the training record)")
    add("--background-class", type=int, help="default: the class named 'background', else -1")
    add("--name", help="default: the training record's, else the model's name")
    add("--version", help="default: the training record's, else 1")
    for role in ("image", "rois", "superpixels"):
        add(f"--{role}-input", help=f"the input that is the {role} (default: read from the graph)")
    for head in ("rois", "superpixels"):
        add(f"--{head}-output", help=f"the output scoring {head} (default: read from the graph)")
    add(
        "--image-scale", type=float, default=1.0, help="float images: (pixels * scale - mean) / std"
    )
    add("--image-mean", type=float, nargs=3, default=[0.0, 0.0, 0.0])
    add("--image-std", type=float, nargs=3, default=[1.0, 1.0, 1.0])
    add("--pad-value", type=int, default=PAD_VALUE, help="pixel value that pads batches")
    add(
        "--max-image-side",
        type=int,
        help=f"longest image side served (default: a fixed image's own, else {MAX_IMAGE_SIDE})",
    )
    add("--superpixel-area", type=int, default=SUPERPIXEL_AREA, help="SLIC pixels per superpixel")
    add("--superpixel-compactness", type=float, default=COMPACTNESS)
    add("--samples", type=Path, help="sample inputs (.npz, contract keys) instead of random ones")
    add(
        "--custom-objects",
        action="append",
        default=[],
        metavar="MODULE",
        help="import MODULE (from the current directory or PYTHONPATH) before loading: the "
        "module that defines and registers the model's own layers (repeatable)",
    )
    add(
        "--precision",
        choices=PRECISIONS,
        default=FP32,
        help="fp16: also the CUDA file in float16 (<stem>.decomposed.fp16.onnx), gated against "
        "Keras (scores within 5e-3 + 5e-3 x |score|, labels equal)",
    )
    add(
        "--allow-offset",
        action="store_true",
        help="export even when a RoiPooling layer's feature map is offset from the image",
    )


def _classes(args: argparse.Namespace, record: TrainingRecord | None) -> list[str]:
    if args.classes is not None:
        return [line.strip() for line in args.classes.read_text().splitlines() if line.strip()]
    if record is None:
        raise ExportError(f"no --classes FILE and no training record {record_path(args.model)}")
    return list(record.classes)


def serving_settings(args: argparse.Namespace, model: keras.Model) -> ServingSettings:
    record = TrainingRecord.load(args.model) if record_path(args.model).exists() else None
    classes = _classes(args, record)
    background = args.background_class
    if background is None:
        background = classes.index("background") if "background" in classes else -1
    return ServingSettings(
        name=args.name or (record.name if record else model.name),
        version=args.version or (record.version if record else "1"),
        classes=classes,
        background_class=background,
        preprocessing=Preprocessing(
            args.image_scale, tuple(args.image_mean), tuple(args.image_std)
        ),
        pad_value=args.pad_value,
        max_image_side=MAX_IMAGE_SIDE if args.max_image_side is None else args.max_image_side,
        superpixel_area=args.superpixel_area,
        superpixel_compactness=args.superpixel_compactness,
        max_image_side_given=args.max_image_side is not None,
    )


def role_flags(args: argparse.Namespace) -> RoleFlags:
    return RoleFlags(
        args.image_input,
        args.rois_input,
        args.superpixels_input,
        args.rois_output,
        args.superpixels_output,
    )


def export_command(args: argparse.Namespace) -> None:
    """The export with its errors raised (tests call this in process)."""
    model = load_keras_model(args.model, args.custom_objects)
    settings = serving_settings(args, model)
    exported = export_model(
        model, args.out, settings, role_flags(args), args.samples, args.allow_offset, args.precision
    )
    for lowering, results in exported.parity.items():
        worst = "; ".join(f"batch {p.batch}: {p}" for p in results)
        print(f"parity ({lowering}): {worst}", file=sys.stderr)
    for lowering, sweeps in exported.sweeps.items():
        for sweep in sweeps:
            print(f"roi sweep ({lowering}): {sweep}", file=sys.stderr)
    for result in exported.float16:
        print(f"parity (float16): batch {result.batch}: {result}", file=sys.stderr)
    print("wrote " + ", ".join(str(p) for p in exported.paths), file=sys.stderr)


def run(args: argparse.Namespace) -> None:
    try:
        export_command(args)
    except ExportError as error:
        sys.exit(f"export failed: {error}")
