"""A user's two-input model (TextMaps: screenshot and text map) exported, then served by
`python -m service` and asked through the Open Inference Protocol with both inputs."""

from pathlib import Path
from subprocess import DEVNULL

import numpy as np
import onnxruntime as ort
import tritonclient.http as httpclient
from tritonclient.utils import np_to_triton_dtype

from model_export.onnx_export import command
from model_export.onnx_export.samples import read_samples
from tests.model_export.zoo.conftest import export_args
from tests.model_export.zoo.models import CLASSES, build
from tests.service.service_process import free_port, start_service, wait_ready


def export_textmaps(folder: Path) -> Path:
    (folder / "classes.txt").write_text("\n".join(CLASSES) + "\n")
    build("textmaps").save(folder / "textmaps.keras")
    onnx_path = folder / "textmaps.onnx"
    command.export_command(
        export_args("--model", folder / "textmaps.keras", "--out", onnx_path, "--classes",
                    folder / "classes.txt")
    )  # fmt: skip
    return onnx_path


def test_textmaps_is_served_through_v2_infer_with_both_inputs(tmp_path: Path) -> None:
    model = export_textmaps(tmp_path)
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    port = free_port()
    process = start_service(model, port, stdout=DEVNULL, stderr=DEVNULL)
    try:
        wait_ready(process, f"http://127.0.0.1:{port}/v2/health/ready")
        client = httpclient.InferenceServerClient(f"127.0.0.1:{port}")
        name = session.get_modelmeta().custom_metadata_map["name"]
        for feed, recorded in read_samples(model.with_suffix(".samples.npz")):
            inputs = []
            for input_name, array in feed.items():
                dtype = np_to_triton_dtype(array.dtype)
                tensor = httpclient.InferInput(input_name, list(array.shape), dtype)
                inputs.append(tensor.set_data_from_numpy(array))
            result = client.infer(name, inputs)
            names = list(recorded)
            for out, want in zip(names, session.run(names, feed), strict=True):
                np.testing.assert_allclose(result.as_numpy(out), want, rtol=0, atol=1e-6)
                np.testing.assert_allclose(result.as_numpy(out), recorded[out], rtol=0, atol=1e-4)
        assert len(feed) == 3  # screenshot, text map and boxes
    finally:
        process.terminate()
        process.wait(timeout=30)
