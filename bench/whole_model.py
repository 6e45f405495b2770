"""The whole region classifier: Keras (TensorFlow) vs onnxruntime, 512x512 image, 32 boxes."""

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench.report import table, write_section
from bench.timing import measure_in_process

KERAS_PATH = Path("models/region_classifier.keras")
ONNX_PATH = Path("models/region_classifier.onnx")
SIDE, BOXES = 512, 32
DECOMPOSED_PATH = Path("models/region_classifier.decomposed.onnx")  # written by the export
CONTENDERS = (
    "keras eager",
    "keras tf.function",
    "onnxruntime, MaxRoiPool lowering",
    "onnxruntime, decomposed lowering",
)


def inputs() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, size=(1, SIDE, SIDE, 3), dtype=np.uint8)
    corners = np.sort(rng.uniform(0, SIDE - 1, size=(BOXES, 2, 2)), axis=1)
    rois = np.concatenate([np.zeros((BOXES, 1)), corners[:, 0], corners[:, 1]], axis=1)
    superpixels = -np.ones((1, SIDE // 4, SIDE // 4), np.int32)  # boxes mode, as served
    return [image, rois.astype(np.float32), superpixels]


def setup(contender: str) -> Callable[[], Any]:
    if contender.startswith("onnxruntime"):
        import onnxruntime as ort

        path = DECOMPOSED_PATH if "decomposed" in contender else ONNX_PATH
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        feed = dict(zip(["image", "rois", "superpixels"], inputs(), strict=True))
        return lambda: session.run(None, feed)
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras
    import tensorflow as tf

    import model_export.layers  # noqa: F401  (registers the custom layers)

    model = keras.saving.load_model(KERAS_PATH)
    data = [tf.constant(x) for x in inputs()]
    if contender == "keras eager":
        return lambda: {k: v.numpy() for k, v in model(data, training=False).items()}
    call = tf.function(lambda x: model(x, training=False))
    return lambda: {k: v.numpy() for k, v in call(data).items()}


def main(repeats: int = 30) -> None:
    results = {c: measure_in_process(setup, (c,), repeats) for c in CONTENDERS}
    ort_ms = results["onnxruntime, MaxRoiPool lowering"].median_ms
    rows = [
        [c, f"{m.median_ms:.1f}", f"{m.p90_ms:.1f}", f"{m.median_ms / ort_ms:.2f}x"]
        for c, m in results.items()
    ]
    body = table(["runtime", "median ms", "p90 ms", "time vs onnxruntime MaxRoiPool"], rows)
    note = (
        f"{SIDE}x{SIDE} image, {BOXES} boxes, batch 1, no superpixels (boxes mode); "
        f"{repeats} timed runs "
        "after 2 warm-up runs, each runtime in a fresh process with its default threads."
    )
    write_section("model", "Whole model: Keras vs onnxruntime (CPU)", f"{note}\n\n{body}\n")


if __name__ == "__main__":
    main()
