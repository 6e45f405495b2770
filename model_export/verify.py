"""`python -m model_export verify`: Keras against the ONNX file on real held-out scenes."""

import argparse
import sys
from pathlib import Path

import keras

from model_export.onnx_export.parity import SCORE_TOLERANCE, check_parity
from model_export.scene_inputs import held_out_scenes, scene_batch


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", type=Path, default=Path("models/region_classifier.keras"))
    parser.add_argument("--onnx", type=Path, default=Path("models/region_classifier.onnx"))
    parser.add_argument("--scenes", type=int, default=6)
    parser.add_argument("--seed", type=int, default=2)


def run(args: argparse.Namespace) -> None:
    model = keras.saving.load_model(args.model)
    scenes = held_out_scenes(args.scenes, args.seed)
    print(
        f"{'batch':>5} {'rois':>5} {'max |d| roi_scores':>19} {'max |d| sp_scores':>18} "
        f"{'pooled onnx-ref':>16} {'pooled keras-ref':>17}"
    )
    failed = False
    for batch in [scenes[i : i + 1] for i in range(len(scenes))] + [scenes[:3], scenes]:
        inputs = scene_batch(batch).inputs
        p = check_parity(model, args.onnx, inputs)
        print(
            f"{p.batch:>5} {len(inputs[1]):>5} {p.score_diff['roi_scores']:>19.2e} "
            f"{p.score_diff['superpixel_scores']:>18.2e} {p.pooled_diff_onnx:>16g} "
            f"{p.pooled_diff_keras:>17g}"
        )
        failed |= not p.ok
    verdict = "FAILED" if failed else "passed"
    print(
        f"verify {verdict}: scores within {SCORE_TOLERANCE:g}, pooled features identical to "
        "the float32 reference",
        file=sys.stderr,
    )
    if failed:
        sys.exit(1)
