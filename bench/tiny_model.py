"""A region classifier whose inference is nearly free, exported through the CLI: a 1x1
convolution at stride 8, then RoiPooling and SuperpixelPooling heads with one Dense each
(the zoo's shape, tests/model_export/zoo), for measuring what the service costs around it."""

import os
import subprocess
import sys
from pathlib import Path

CLASSES = (*(str(d) for d in range(10)), "background")


def build(path: Path) -> None:
    """The untrained .keras model at `path`."""
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras
    from keras import layers

    from model_export.layers import RoiPooling, SuperpixelPooling

    image = keras.Input((None, None, 3), dtype="uint8", name="image")
    rois = keras.Input((5,), name="rois")
    ids = keras.Input((None, None), dtype="int32", name="superpixels")
    x = layers.Rescaling(1 / 255, name="scale")(image)
    features = layers.Conv2D(8, 1, strides=8, activation="relu", name="conv")(x)
    pooled = layers.Flatten(name="flat")(
        RoiPooling((2, 2), 1 / 8, name="roi_pool")([features, rois])
    )
    box_scores = layers.Dense(len(CLASSES), activation="softmax", name="box_scores")(pooled)
    regions = SuperpixelPooling("average", name="superpixel_pool")([features, ids])
    region_scores = layers.Dense(len(CLASSES), activation="softmax", name="region_scores")(regions)
    outputs = {"box_scores": box_scores, "region_scores": region_scores}
    keras.Model([image, rois, ids], outputs, name="tiny").save(path)


def export(folder: Path) -> Path:
    """Build and export the model in `folder` with `python -m model_export export`."""
    folder.mkdir(parents=True, exist_ok=True)
    keras_file, classes = folder / "tiny.keras", folder / "classes.txt"
    classes.write_text("\n".join(CLASSES) + "\n")
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3"}
    build_code = "import sys; from pathlib import Path; from bench.tiny_model import build; "
    build_code += "build(Path(sys.argv[1]))"
    subprocess.run([sys.executable, "-c", build_code, str(keras_file)], check=True, env=env)
    out = folder / "tiny.onnx"
    command = [sys.executable, "-m", "model_export", "export", "--model", str(keras_file)]
    command += ["--out", str(out), "--classes", str(classes), "--version", "1"]
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
    return out


if __name__ == "__main__":
    print(export(Path(sys.argv[1])))
