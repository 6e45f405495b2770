"""The V2 models this server offers: the served ONNX model itself, by its own signature, and
`<name>-regions`, the region pipeline on encoded images (`service.v2.regions_model`)."""

import time
from functools import partial
from typing import Any, Protocol

import numpy as np
from starlette.concurrency import run_in_threadpool

from service.errors import BadRequest, ModelNotFound
from service.inference.sessions import WorkerSessions
from service.runtime import ModelRuntime
from service.v2.body import InferBody
from service.v2.feed_limits import FeedLimits
from service.v2.inputs import declared_bytes, decode_inputs
from service.v2.model_refusals import MODEL_REFUSALS, refusal_message
from service.v2.outputs import Encoded, encode_response, wanted_outputs
from service.v2.schemas import InferenceRequest, parse_inference_request
from service.v2.signature import TensorSpec, specs_of

# Headers up to this size are parsed on the event loop (a binary request's is a few hundred
# bytes); larger ones, tensors written in JSON, in a thread.
INLINE_HEADER_BYTES = 16 * 2**10


class V2Model(Protocol):
    name: str
    version: str
    platform: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]

    async def infer(self, body: InferBody) -> Encoded: ...


def model_metadata(model: V2Model) -> dict[str, Any]:
    return {
        "name": model.name,
        "versions": [model.version],
        "platform": model.platform,
        "inputs": [spec.metadata() for spec in model.inputs],
        "outputs": [spec.metadata() for spec in model.outputs],
    }


class OnnxModel:
    """The served ONNX file: its inputs in, every output it gives out, in one session run."""

    platform = "onnx_onnxv1"

    def __init__(self, runtime: ModelRuntime) -> None:
        self.runtime = runtime
        self.name, self.version = runtime.info.name, runtime.info.version
        session = runtime.predictor.session
        self.inputs, self.outputs = specs_of(session.get_inputs()), specs_of(session.get_outputs())
        self.limits = FeedLimits.of(runtime)  # the region API's, by the inputs' roles

    async def infer(self, body: InferBody) -> Encoded:
        """The header read and its shapes checked, the tensors' bytes reserved in the memory
        budget; then decoding, the run and encoding in one trip to an inference thread, under
        the batcher's queue limit and deadline (a feed is a batch of its own)."""
        settings = self.runtime.settings
        if len(body.header) <= INLINE_HEADER_BYTES:
            request = self.parse(body.header)
        else:
            request = await run_in_threadpool(self.parse, body.header)
        need = declared_bytes(request.inputs, settings.max_json_values)
        held = await self.runtime.memory.hold(need)  # until the thread is done with it
        job = partial(self.answer, request, body.binary)
        timeout_s = settings.request_timeout_s - held.waited_s
        return await self.runtime.batcher.run_job(job, timeout_s, on_done=held.release)

    def parse(self, header: bytes) -> InferenceRequest:
        request = parse_inference_request(header, self.runtime.settings.max_json_values)
        self.limits.check_shapes(request.inputs)
        return request

    def answer(
        self, request: InferenceRequest, binary: memoryview, worker: WorkerSessions
    ) -> Encoded:
        feed = decode_inputs(request.inputs, binary, self.inputs)
        wanted = wanted_outputs(request, self.outputs)
        self.limits.check_values(feed, wanted)
        identity = {"model_name": self.name, "model_version": self.version}
        return encode_response(identity, request, self.run(feed, worker), wanted)

    def run(self, feed: dict[str, np.ndarray], worker: WorkerSessions) -> dict[str, np.ndarray]:
        start = time.perf_counter()
        try:
            results = self.runtime.predictor.run_feed(feed, worker.whole)
        except MODEL_REFUSALS as error:
            raise BadRequest(f"the model refused these inputs: {refusal_message(error)}") from None
        first = feed[self.inputs[0].name]
        batch = first.shape[0] if first.ndim else 1
        self.runtime.metrics.observe_batch(batch, time.perf_counter() - start)
        return results


class ServedModels:
    def __init__(self, runtime: ModelRuntime, models: list[V2Model]) -> None:
        self.runtime = runtime
        self.by_name = {model.name: model for model in models}

    def find(self, name: str, version: str | None = None) -> V2Model:
        model = self.by_name.get(name)
        if model is None:
            raise ModelNotFound(f"unknown model {name!r}; this server has {list(self.by_name)}")
        if version is not None and version != model.version:
            raise ModelNotFound(f"model {name!r} has version {model.version!r}, not {version!r}")
        return model
