"""The model's metadata_props: everything the service needs (the README's table, "What the ONNX
file carries", under "Serving your own model")."""

import json
from dataclasses import dataclass

from model_export.onnx_export.roles import Roles
from model_export.onnx_export.samples import Preprocessing

CONTRACT_VERSION = "1"


@dataclass(frozen=True)
class ServingSettings:
    name: str
    version: str
    classes: list[str]
    background_class: int  # -1: no background class
    preprocessing: Preprocessing  # for float32 images
    pad_value: int
    max_image_side: int
    superpixel_area: int
    superpixel_compactness: float
    max_image_side_given: bool = False  # by the user: a fixed image size must then agree


def metadata_props(
    settings: ServingSettings,
    roles: Roles,
    rois_format: str | None,
    stride: int,
    image_dtype: str,
    input_shapes: dict[str, list[int | None]],
) -> dict[str, str]:
    prep = settings.preprocessing
    preprocessing = (
        {}
        if image_dtype == "uint8"
        else {"scale": prep.scale, "mean": list(prep.mean), "std": list(prep.std)}
    )
    inputs = {"image": roles.image, "rois": roles.rois, "superpixels": roles.superpixels}
    props: dict[str, object] = {
        "regionserve_contract": CONTRACT_VERSION,
        "name": settings.name,
        "version": settings.version,
        "classes": settings.classes,
        "background_class": settings.background_class,
        "inputs": {role: name for role, name in inputs.items() if name is not None},
        "extra_inputs": list(roles.extra),
        "input_shapes": input_shapes,  # as declared, None for a dynamic axis
        "outputs": roles.outputs,
        "stride": stride,
        "image_dtype": image_dtype,
        "image_preprocessing": preprocessing,
        "pad_value": settings.pad_value,
        "max_image_side": settings.max_image_side,
    }
    if rois_format is not None:
        props["rois_format"] = rois_format
    if roles.superpixels is not None:
        props["superpixel_area"] = settings.superpixel_area
        props["superpixel_compactness"] = settings.superpixel_compactness
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in props.items()}
