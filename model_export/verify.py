"""`python -m model_export verify`: an exported file against Keras and its recorded samples."""

import argparse
import sys
from pathlib import Path

import keras
import numpy as np

from model_export.onnx_export.gates import cpu_session, parity
from model_export.onnx_export.samples import keras_outputs, read_samples
from regionserve_contract.files import SCORE_TOLERANCE, samples_path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", type=Path, default=Path("models/region_classifier.keras"))
    parser.add_argument("--onnx", type=Path, default=Path("models/region_classifier.onnx"))
    parser.add_argument("--samples", type=Path, help="default: <stem>.samples.npz beside --onnx")


def run(args: argparse.Namespace) -> None:
    model = keras.saving.load_model(args.model)
    session = cpu_session(str(args.onnx))
    print(f"{'sample':>6} {'batch':>5}  max |keras - onnx| per output; max |keras - recorded|")
    failed = False
    for k, (feed, recorded) in enumerate(read_samples(args.samples or samples_path(args.onnx))):
        expected = keras_outputs(model, feed)
        result = parity(session, feed, expected)
        drift = max(
            (float(np.max(np.abs(expected[n] - v), initial=0.0)) for n, v in recorded.items()),
            default=0.0,
        )
        print(f"{k:>6} {result.batch:>5}  {result}; {drift:.2e}")
        failed |= not result.ok or drift > SCORE_TOLERANCE
    verdict = "FAILED" if failed else "passed"
    print(f"verify {verdict}: every output within {SCORE_TOLERANCE:g} of Keras", file=sys.stderr)
    if failed:
        sys.exit(1)
