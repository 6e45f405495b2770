"""`python -m model_export export`: write the ONNX file, gated by checker, domains and parity."""

import argparse
import sys
from pathlib import Path

import keras

from model_export.model import MAX_IMAGE_SIDE, PAD_VALUE, STRIDE
from model_export.onnx_export.export import ExportError, export
from model_export.onnx_export.layer_lowering import LoweringOptions
from model_export.onnx_export.parity import check_parity
from model_export.onnx_export.self_test import write_self_test
from model_export.scene_inputs import held_out_scenes, scene_batch
from model_export.training.record import TrainingRecord
from model_export.training.superpixels import COMPACTNESS, SUPERPIXEL_AREA

ROI_LOWERINGS = ("maxroipool", "decomposed")
SHIPPED_LOWERING = "maxroipool"  # fastest on CPU: see bench/RESULTS.md


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", type=Path, default=Path("models/region_classifier.keras"))
    parser.add_argument("--out", type=Path, default=Path("models/region_classifier.onnx"))
    parser.add_argument("--roi-lowering", choices=ROI_LOWERINGS, default=SHIPPED_LOWERING)
    parser.add_argument("--parity-scenes", type=int, default=4)


def service_metadata(record: TrainingRecord) -> dict:
    """What the service needs to preprocess and label, stored as ONNX metadata_props."""
    return {
        "name": record.name,
        "version": record.version,
        "classes": record.classes,
        "background_class": 0,
        "input_layout": "NHWC",
        "input_dtype": "uint8",
        "stride": STRIDE,
        "pad_value": PAD_VALUE,
        "max_image_side": MAX_IMAGE_SIDE,
        "roi_format": "[batch_index, x1, y1, x2 - 1, y2 - 1] in input pixels",
        "max_roi_side": MAX_IMAGE_SIDE,
        "superpixel_grid": f"ids at rows and columns k * {STRIDE} + {STRIDE // 2}",
        "superpixel_area": SUPERPIXEL_AREA,
        "superpixel_compactness": COMPACTNESS,
    }


def export_with_gates(model_path: Path, out: Path, roi_lowering: str, parity_scenes: int) -> None:
    model = keras.saving.load_model(model_path)
    options = LoweringOptions(roi_lowering, max_roi_cells=MAX_IMAGE_SIDE // STRIDE)
    record = TrainingRecord.load(model_path)
    export(model, out, options, service_metadata(record))
    scenes = held_out_scenes(parity_scenes, seed=1)
    for batch in ([scenes[0]], scenes[:3]):
        parity = check_parity(model, out, scene_batch(batch).inputs)
        print(f"parity at batch {parity.batch}: {parity}", file=sys.stderr)
        if not parity.ok:
            out.unlink()
            raise ExportError(f"parity failed, {out} removed: {parity}")
    scene = write_self_test(model, record.classes, out)
    print(f"wrote {out} ({roi_lowering} RoI lowering) and its self-test {scene}", file=sys.stderr)


def run(args: argparse.Namespace) -> None:
    export_with_gates(args.model, args.out, args.roi_lowering, args.parity_scenes)
