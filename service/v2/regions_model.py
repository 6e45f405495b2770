"""`<name>-regions`: POST /classify-regions as a V2 model, for clients holding encoded images.

A batch of images, each with its boxes (or none: the service proposes regions) and the
model's extra inputs, in; the regions of every image, in order, out (the tensors:
`service.v2.regions_signature`). Each image is one request of the region pipeline, so the
labels and scores are the region API's, and the images of a request batch with each other
and with other requests' as the micro-batcher allows."""

import asyncio

from starlette.concurrency import run_in_threadpool

from service.errors import PayloadTooLarge, ServiceError
from service.regions.answer import RegionColumns, RegionsAnswer
from service.regions.request import RegionRequest
from service.runtime import ModelRuntime
from service.v2.body import InferBody
from service.v2.inputs import decode_inputs
from service.v2.outputs import Encoded, Wanted, encode_response, wanted_outputs
from service.v2.regions_batch import region_requests, region_tensors
from service.v2.regions_signature import OUTPUTS, OWN_INPUTS, extra_tensors
from service.v2.schemas import InferenceRequest, parse_inference_request
from service.v2.signature import TensorSpec


class RegionsModel:
    platform = "regionserve_pipeline"
    outputs: tuple[TensorSpec, ...] = OUTPUTS

    def __init__(self, runtime: ModelRuntime) -> None:
        self.runtime = runtime
        self.name, self.version = f"{runtime.info.name}-regions", runtime.info.version
        self.extras = extra_tensors(runtime.info)
        self.inputs: tuple[TensorSpec, ...] = (*OWN_INPUTS, *(e.spec for e in self.extras))

    async def infer(self, body: InferBody) -> Encoded:
        request, wanted, asked = await run_in_threadpool(self.decode, body)
        answers = await self.classify_all(asked)
        identity = {"model_name": self.name, "model_version": self.version}
        tensors = region_tensors([_columns(answer) for answer in answers], asked[0].top_k)
        return encode_response(identity, request, tensors, wanted)

    def decode(self, body: InferBody) -> tuple[InferenceRequest, list[Wanted], list[RegionRequest]]:
        """The request, its outputs and one region request per image (CPU-bound: large
        extra inputs in JSON take a while)."""
        settings = self.runtime.settings
        request = parse_inference_request(body.header, settings.max_json_values)
        _check_image_count(request, settings.queue_size)
        tensors = decode_inputs(request.inputs, body.binary, self.inputs)
        wanted = wanted_outputs(request, self.outputs)
        return request, wanted, region_requests(tensors, self.extras, settings.queue_size)

    async def classify_all(self, asked: list[RegionRequest]) -> list[RegionsAnswer]:
        """Every image through the pipeline at once; the first failure, naming its image
        when there are several, once all have finished."""
        classify = self.runtime.pipeline.classify
        answers = await asyncio.gather(*map(classify, asked), return_exceptions=True)
        for index, answer in enumerate(answers):
            if isinstance(answer, BaseException):
                raise _naming_image(answer, index, len(asked))
        return [answer for answer in answers if not isinstance(answer, BaseException)]


def _columns(answer: RegionsAnswer) -> RegionColumns:
    """The pipeline's answers hold their regions as columns."""
    if not isinstance(answer.regions, RegionColumns):
        raise TypeError(f"regions as columns expected, got {type(answer.regions).__name__}")
    return answer.regions


def _check_image_count(request: InferenceRequest, limit: int) -> None:
    """From the declared shape, before any image is read."""
    for item in request.inputs:
        if item.name == "image" and item.shape and item.shape[0] > limit:
            raise PayloadTooLarge(
                f"input 'image' holds {item.shape[0]} images; a request takes at most {limit} "
                "(queue_size)"
            )


def _naming_image(error: BaseException, index: int, count: int) -> BaseException:
    if count == 1 or not isinstance(error, ServiceError):
        return error
    named = type(error)(f"image {index}: {error.detail}")
    return named.with_traceback(error.__traceback__)
