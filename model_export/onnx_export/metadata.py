"""The model's metadata_props: everything the service needs (the README's table, "What the ONNX
file carries", under "Serving your own model")."""

from dataclasses import dataclass

from model_export.onnx_export.roles import Roles
from regionserve_contract.metadata import CONTRACT_VERSION, Key, as_props
from regionserve_contract.preprocessing import Preprocessing


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
    proposal_head: dict[str, str] | None = None,
) -> dict[str, str]:
    preprocessing = {} if image_dtype == "uint8" else settings.preprocessing.as_metadata()
    inputs = {"image": roles.image, "rois": roles.rois, "superpixels": roles.superpixels}
    props: dict[str, object] = {
        Key.CONTRACT: CONTRACT_VERSION,
        Key.NAME: settings.name,
        Key.VERSION: settings.version,
        Key.CLASSES: settings.classes,
        Key.BACKGROUND_CLASS: settings.background_class,
        Key.INPUTS: {role: name for role, name in inputs.items() if name is not None},
        Key.EXTRA_INPUTS: list(roles.extra),
        Key.INPUT_SHAPES: input_shapes,  # as declared, None for a dynamic axis
        Key.OUTPUTS: roles.outputs,
        Key.STRIDE: stride,
        Key.IMAGE_DTYPE: image_dtype,
        Key.IMAGE_PREPROCESSING: preprocessing,
        Key.PAD_VALUE: settings.pad_value,
        Key.MAX_IMAGE_SIDE: settings.max_image_side,
    }
    if rois_format is not None:
        props[Key.ROIS_FORMAT] = rois_format
    if proposal_head is not None:
        props[Key.PROPOSAL_HEAD] = proposal_head
    if roles.superpixels is not None:
        props[Key.SUPERPIXEL_AREA] = settings.superpixel_area
        props[Key.SUPERPIXEL_COMPACTNESS] = settings.superpixel_compactness
    return as_props(props)
