"""The known scene shipped beside the ONNX file, which the service must label right to be ready."""

import base64
import io
import json
from pathlib import Path

import keras
import numpy as np
from PIL import Image

from model_export.scene_inputs import held_out_scenes, scene_batch


def write_self_test(model: keras.Model, classes: list[str], onnx_path: Path, seed: int = 7) -> Path:
    """The first held-out scene whose boxes the Keras model all labels right."""
    for scene in held_out_scenes(20, seed, max_side=384):
        batch = scene_batch([scene])
        scores = np.asarray(model(batch.inputs, training=False)["roi_scores"])
        if len(batch.labels) >= 2 and np.array_equal(scores.argmax(axis=1), batch.labels):
            break
    else:
        raise RuntimeError("no held-out scene is labelled right: the model is not usable")
    png = io.BytesIO()
    Image.fromarray(scene.image).save(png, format="PNG")
    path = onnx_path.with_suffix(".selftest.json")
    path.write_text(
        json.dumps(
            {
                "image": base64.b64encode(png.getvalue()).decode("ascii"),
                "boxes": [list(d.box) for d in scene.digits],
                "labels": [classes[label] for label in batch.labels],
            }
        )
    )
    return path
