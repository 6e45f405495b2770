"""Keras served directly: the .keras model in TensorFlow behind a minimal FastAPI endpoint,
the way a Keras user would serve it without RegionServe. Same decode, preparation and regions.

Run: python -m bench.contenders.keras_app PORT
"""

import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
import uvicorn
from fastapi import FastAPI, File, Form, UploadFile

import model_export.layers  # noqa: F401  (registers the custom layers)
from bench.contenders.shared import RequestWork, scores_from_outputs
from service.inference.feed import ModelInput, Scores

model = keras.saving.load_model("models/region_classifier.keras")


def run(batch: list[ModelInput]) -> list[Scores]:
    item = batch[0]
    height, width = (-(-s // 4) * 4 for s in item.pixels.shape[:2])
    image = np.full((1, height, width, 3), 128, np.uint8)
    image[0, : item.pixels.shape[0], : item.pixels.shape[1]] = item.pixels
    rois = np.concatenate([np.zeros((len(item.rois), 1), np.float32), item.rois], axis=1)
    grid = -np.ones((1, height // 4, width // 4), np.int32)
    out = model([image, rois, grid], training=False)
    return scores_from_outputs(batch, np.asarray(out["roi_scores"]))


work = RequestWork(run)
app = FastAPI()


@app.get("/ready")
def ready() -> dict[str, str]:
    return {"status": "ready"}


@app.post("/classify-regions")
def classify(image: UploadFile = File(...), boxes: str | None = Form(None)) -> dict:  # noqa: B008
    return work.handle(image.file.read(), boxes)


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
