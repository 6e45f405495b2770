"""The files of one export and their names: `<stem>.onnx` (MaxRoiPool lowering),
`<stem>.decomposed.onnx` (the CUDA provider's, with a RoI head; its float16 variant
`<stem>.decomposed.fp16.onnx` on request) and `<stem>.samples.npz`
(sample inputs and the Keras model's outputs on them, shared by both), and the tolerance
every output is held to against Keras: by the export's gates, `verify` and the service's
self-test."""

import re
from pathlib import Path

import numpy as np

from regionserve_contract.metadata import FP16

SCORE_TOLERANCE = 1e-4  # absolute, on every output (scores)
# The float16 file (`export --precision fp16`): |got - keras| <= 5e-3 + 5e-3 * |keras|. One
# float16 rounding is 2.4e-4 at a score of 0.5-1 (2**-12); 5e-3 is about 10 such roundings
# through the layers, and the relative part holds unbounded outputs (logits) to as many digits.
# The shipped model's fp16 file is within 2.2e-4 of Keras on its samples.
FLOAT16_TOLERANCE = (5e-3, 5e-3)  # (absolute, relative)
LOWERING_SUFFIXES = {"maxroipool": ".onnx", "decomposed": ".decomposed.onnx"}
FLOAT16_SUFFIX = ".fp16.onnx"  # the CUDA file in float16, beside the float32 ones
# Keys of <stem>.samples.npz: sample{k}/input/{input name} and sample{k}/output/{output name}.
SAMPLE_KEY = re.compile(r"sample(\d+)/(input|output)/(.+)")


def sample_key(k: int, part: str, name: str) -> str:
    """`part`: "input" or "output"."""
    return f"sample{k}/{part}/{name}"


def samples_path(model_path: Path) -> Path:
    stem = model_path.name.removesuffix(".onnx").removesuffix(".fp16").removesuffix(".decomposed")
    return model_path.with_name(stem + ".samples.npz")


def decomposed_variant(path: Path) -> Path:
    """The export's sibling file with the decomposed RoI lowering: onnxruntime has no CUDA
    kernel for MaxRoiPool, whose nodes would fall back to the CPU, with copies around them."""
    return path.with_name(path.stem + LOWERING_SUFFIXES["decomposed"])


def float16_variant(cuda_file: Path) -> Path:
    """The CUDA provider's file in float16 (`export --precision fp16`):
    `<stem>.decomposed.fp16.onnx`, or `<stem>.fp16.onnx` for a model without a RoI head."""
    return cuda_file.with_name(cuda_file.name.removesuffix(".onnx") + FLOAT16_SUFFIX)


def within_tolerance(expected: np.ndarray, got: np.ndarray, precision: str) -> np.ndarray:
    """Elementwise: `got` is as close to `expected` as a file of `precision` must be (NaN
    fails; equal infinities pass)."""
    atol, rtol = FLOAT16_TOLERANCE if precision == FP16 else (SCORE_TOLERANCE, 0.0)
    expected, got = expected.astype(np.float64), got.astype(np.float64)
    close = np.abs(got - expected) <= atol + rtol * np.abs(expected)
    return close | (expected == got)
