"""RoI pooling on a 40x40x256 map: the ONNX decomposition vs ONNX MaxRoiPool vs the Keras layer."""

import os
from collections.abc import Callable
from typing import Any

import numpy as np

from bench.report import table, write_section
from bench.timing import measure_contenders

HEIGHT = WIDTH = 40
CHANNELS = 256
SCALE = 1 / 16
POOLED = (7, 7)
ROI_COUNTS = (16, 128, 512)
CONTENDERS = ("onnx MaxRoiPool", "onnx decomposed", "keras layer (tf.function)")


def inputs(count: int) -> tuple[np.ndarray, np.ndarray]:
    """Features (1, H, W, C) and `count` random rois inside the 640 x 640 input image."""
    rng = np.random.default_rng(count)
    features = rng.normal(size=(1, HEIGHT, WIDTH, CHANNELS)).astype(np.float32)
    side = HEIGHT / SCALE
    corners = np.sort(rng.uniform(0, side - 1, size=(count, 2, 2)), axis=1)
    rois = np.concatenate([np.zeros((count, 1)), corners[:, 0], corners[:, 1]], axis=1).astype(
        np.float32
    )
    return features, rois


def setup_onnx(lowering: str, count: int) -> Callable[[], Any]:
    import onnxruntime as ort

    from model_export.onnx_export.roi_lowering import roi_pool_model

    proto = roi_pool_model(lowering, POOLED, SCALE, max_roi_cells=HEIGHT)
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    features, rois = inputs(count)
    feed = {"features": features.transpose(0, 3, 1, 2).copy(), "rois": rois}
    return lambda: session.run(None, feed)


def setup_keras(count: int) -> Callable[[], Any]:
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import tensorflow as tf

    from model_export.layers import RoiPooling

    layer = RoiPooling(POOLED, SCALE)
    features, rois = (tf.constant(x) for x in inputs(count))
    call = tf.function(lambda f, r: layer([f, r]))
    return lambda: call(features, rois).numpy()


def setup(contender: str, count: int) -> Callable[[], Any]:
    if contender == "keras layer (tf.function)":
        return setup_keras(count)
    return setup_onnx("maxroipool" if contender == "onnx MaxRoiPool" else "decomposed", count)


def main(repeats: int = 30) -> None:
    rows = []
    for count in ROI_COUNTS:
        results = measure_contenders(setup, CONTENDERS, count, repeats)
        baseline = results["onnx MaxRoiPool"].median_ms
        for contender, m in results.items():
            rows.append(
                [
                    str(count),
                    contender,
                    f"{m.median_ms:.2f}",
                    f"{m.p90_ms:.2f}",
                    f"{m.median_ms / baseline:.2f}x",
                    f"{m.peak_mib:.0f}",
                ]
            )
    body = table(
        ["R", "implementation", "median ms", "p90 ms", "time vs MaxRoiPool", "peak MiB"], rows
    )
    note = (
        f"{HEIGHT}x{WIDTH}x{CHANNELS} features, pooled {POOLED[0]}x{POOLED[1]}, spatial scale "
        f"1/16, random rois inside the image, batch 1, {repeats} timed runs after 2 warm-up runs, "
        "each implementation in a fresh process (peak = peak RSS over setup and runs above the "
        "process size before them)."
    )
    write_section("roi", "RoI pooling (CPU, onnxruntime and TensorFlow)", f"{note}\n\n{body}\n")


if __name__ == "__main__":
    main()
