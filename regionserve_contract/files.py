"""The files of one export and their names: `<stem>.onnx` (MaxRoiPool lowering),
`<stem>.decomposed.onnx` (the CUDA provider's, with a RoI head) and `<stem>.samples.npz`
(sample inputs and the Keras model's outputs on them, shared by both), and the tolerance
every output is held to against Keras: by the export's gates, `verify` and the service's
self-test."""

import re
from pathlib import Path

SCORE_TOLERANCE = 1e-4  # absolute, on every output (scores)
LOWERING_SUFFIXES = {"maxroipool": ".onnx", "decomposed": ".decomposed.onnx"}
# Keys of <stem>.samples.npz: sample{k}/input/{input name} and sample{k}/output/{output name}.
SAMPLE_KEY = re.compile(r"sample(\d+)/(input|output)/(.+)")


def sample_key(k: int, part: str, name: str) -> str:
    """`part`: "input" or "output"."""
    return f"sample{k}/{part}/{name}"


def samples_path(model_path: Path) -> Path:
    stem = model_path.name.removesuffix(".onnx").removesuffix(".decomposed")
    return model_path.with_name(stem + ".samples.npz")


def decomposed_variant(path: Path) -> Path:
    """The export's sibling file with the decomposed RoI lowering: onnxruntime has no CUDA
    kernel for MaxRoiPool, whose nodes would fall back to the CPU, with copies around them."""
    return path.with_name(path.stem + LOWERING_SUFFIXES["decomposed"])
