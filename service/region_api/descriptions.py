"""What GET /readyz and GET /v1/model say of the model served: built here once for the routes
and for the OpenAPI document's examples."""

from dataclasses import asdict
from typing import Any

from service.inference.model_info import ModelInfo
from service.regions.picture import resize_rule
from service.runtime import ModelRuntime


def ready_body(runtime: ModelRuntime) -> dict[str, str]:
    predictor = runtime.predictor
    return {
        "status": "ready",
        "provider": predictor.provider,
        "model_file": predictor.path.name,
        "precision": predictor.precision,
        "self_test": runtime.self_test,
    }


def model_body(runtime: ModelRuntime) -> dict[str, Any]:
    info = runtime.info
    return {
        "name": info.name,
        "version": info.version,
        "classes": info.classes,
        "background_class": info.background_class,
        "input": {
            "formats": ["JPEG", "PNG", "WebP", "BMP", "TIFF", "GIF"],
            "max_image_pixels": runtime.settings.max_image_pixels,
            "working_max_side": info.max_image_side,
            "image": image_input(info),
            "max_boxes": runtime.settings.max_boxes,
            "modes": list(info.modes),
            "extra_inputs": [extra.describe() for extra in info.extra_inputs],
        },
        "model_inputs": model_inputs(info),
        "provider": runtime.predictor.provider,
        "model_file": runtime.predictor.path.name,
        "precision": runtime.predictor.precision,
        "roi_lowering": info.roi_lowering,
        "ready": runtime.ready,
        "self_test": runtime.self_test,
    }


def image_input(info: ModelInfo) -> dict[str, Any]:
    """The image's size at the model and the one rule that brings images to it."""
    fixed = info.image_size
    rule = resize_rule(info.bound, fixed, info.pad_value, info.stride)
    return {
        "fixed_size": None if fixed == (None, None) else list(fixed),  # [height, width]
        "max_side": info.max_image_side,
        "resize": rule,
    }


def model_inputs(info: ModelInfo) -> dict[str, Any]:
    """How the service feeds the model: input names by role, image format, heads."""
    return {
        "roles": info.inputs,
        "outputs": info.outputs,
        "image_dtype": info.image_dtype,
        "image_preprocessing": {} if info.preprocessing is None else asdict(info.preprocessing),
        "stride": info.stride,
        "rois_format": info.rois_format,
        "pad_value": info.pad_value,
        "proposal_head": info.proposal_head,
    }
