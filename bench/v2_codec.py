"""The protocol's own cost in process, no HTTP: a request body to checked numpy tensors, and
the answer to a response body, beside the region API's multipart parse and JSON answer."""

from collections.abc import Callable
from typing import Any

from pydantic_core import to_json

from bench.load import Payload
from bench.report import table
from bench.timing import time_calls
from bench.v2_payloads import FeedLoop
from service.http.form_data import parse_form
from service.regions.labels import box_regions
from service.regions.prepare import prepare_request
from service.regions.request import RegionRequest
from service.v2.body import InferBody, split_body
from service.v2.inputs import decode_inputs
from service.v2.outputs import encode_response, wanted_outputs
from service.v2.regions_batch import region_tensors
from service.v2.regions_signature import OUTPUTS, OWN_INPUTS
from service.v2.schemas import parse_inference_request
from service.v2.signature import TensorSpec, specs_of

REPEATS = 200


def _split(payload: Payload) -> InferBody:
    return split_body(payload.body, dict(payload.headers).get("Inference-Header-Content-Length"))


def _decoder(payload: Payload, specs: tuple[TensorSpec, ...]) -> Callable[[], Any]:
    def decode() -> Any:
        body = _split(payload)
        return decode_inputs(parse_inference_request(body.header).inputs, body.binary, specs)

    return decode


def _encoder(
    payload: Payload, specs: tuple[TensorSpec, ...], tensors: Callable[[], dict]
) -> Callable[[], Any]:
    request = parse_inference_request(_split(payload).header)
    identity = {"model_name": "m", "model_version": "1"}
    return lambda: encode_response(identity, request, tensors(), wanted_outputs(request, specs))


def codec_section(
    loop: FeedLoop, region_api: Payload, regions: Payload, infer: Payload, top_k: int
) -> str:
    """Times for request 0 of each contender: median (p90) over REPEATS calls, in ms."""
    image, boxes = loop.requests[0]
    request = RegionRequest(image, boxes, top_k, "boxes")
    prepared = prepare_request(loop.predictor.info, loop.settings, request, "boxes")
    scores = loop.predictor.run([prepared.item])[0]
    answer = box_regions(loop.predictor.info, prepared.boxes, scores.rois, top_k)
    session = loop.predictor.session
    model_in, model_out = specs_of(session.get_inputs()), specs_of(session.get_outputs())
    outputs = loop.predictor.run_feed(loop.feeds[0])
    form = region_api.body, region_api.content_type
    steps = [
        ("region API: multipart parse", lambda: parse_form(*form)),
        ("region API: answer to JSON", lambda: to_json({"regions": [r.as_json() for r in answer]})),
        ("V2 -regions: body to checked tensors", _decoder(regions, OWN_INPUTS)),
        ("V2 -regions: regions to tensors, binary body",
         _encoder(regions, OUTPUTS, lambda: region_tensors([answer], top_k))),
        ("V2 infer: body to checked tensors", _decoder(infer, model_in)),
        ("V2 infer: outputs to binary body", _encoder(infer, model_out, lambda: outputs)),
    ]  # fmt: skip
    rows = []
    for label, step in steps:
        p50, p90 = time_calls(step, REPEATS)
        rows.append([label, f"{p50 * 1e3:.0f}", f"{p90 * 1e3:.0f}"])
    note = (
        f"The codecs alone, in process, on request 0 of the tables above: median and 90th "
        f"percentile of {REPEATS} calls. The V2 decoders include parsing the JSON object and "
        "checking every tensor against the signature; with binary data the tensors are views "
        "of the body, not copies."
    )
    return f"{note}\n\n{table(['step', 'median us', 'p90 us'], rows)}"
