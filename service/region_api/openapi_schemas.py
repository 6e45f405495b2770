"""JSON schemas of the answers that FastAPI cannot derive: the routes build their bodies
themselves. POST /classify-regions' answer follows its type (`service.regions.answer`): the
fields, their order and which are required come from the dataclasses, the words from here.
Tests validate real answers against them."""

from dataclasses import MISSING, fields
from typing import Any

from regionserve_contract.metadata import IMAGE_DTYPES, PRECISIONS
from service.regions.answer import ClassScore, ImageSize, Mask, ModelId, Region, RegionsAnswer, Size
from service.regions.request import MODES

Schema = dict[str, Any]

STRING, INTEGER, NUMBER = {"type": "string"}, {"type": "integer"}, {"type": "number"}
BOX: Schema = {
    "type": "array",
    "items": NUMBER,
    "minItems": 4,
    "maxItems": 4,
    "description": "[x1, y1, x2, y2] in pixels of the image as displayed (EXIF applied); "
    "x2 and y2 exclusive",
}


def mode_schema(modes: tuple[str, ...] = MODES) -> Schema:
    """The modes a model's heads offer, with its default (as pipeline.choose_mode picks it)."""
    unboxed = "proposals" if "proposals" in modes else modes[-1]
    default = f"'boxes' when boxes are given, else {unboxed!r}" if "boxes" in modes else unboxed
    return {
        "type": "string",
        "enum": list(modes),
        "description": f"default: {default}; only the modes that the model's heads offer are "
        "accepted (GET /v1/model: input.modes)",
    }


PRECISION: Schema = {
    "type": "string",
    "enum": list(PRECISIONS),
    "description": "the floats the loaded file computes in (fp16: `export --precision fp16`, "
    "on CUDA only)",
}
MODE = mode_schema()  # any model's: all three
# What base64.b64decode(validate=True) takes: the standard alphabet, padded, nothing else.
BASE64_PATTERN = r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"


def _object(required: list[str], **properties: Schema) -> Schema:
    return {"type": "object", "required": required, "properties": properties}


def _of_type(kind: type, properties: dict[str, Schema], omit: tuple[str, ...] = ()) -> Schema:
    """The object schema of a dataclass of `service.regions.answer`: its fields in order,
    required where they have no default, each described by `properties`; one left
    undescribed fails here, at import."""
    names = [f.name for f in fields(kind) if f.name not in omit]
    if sorted(names) != sorted(properties):
        raise TypeError(f"{kind.__name__} has fields {names}; described: {sorted(properties)}")
    required = [
        f.name
        for f in fields(kind)
        if f.name in names and f.default is MISSING and f.default_factory is MISSING
    ]
    return _object(required, **{name: properties[name] for name in names})


SCORE = _of_type(ClassScore, {"label": STRING, "score": NUMBER})
MASK = _of_type(
    Mask,
    {
        "size": {"type": "array", "items": INTEGER, "minItems": 2, "maxItems": 2},
        "counts": {"type": "string", "description": "compressed COCO counts, column-major"},
    },
)
MASK["description"] = "superpixels mode only: a COCO run-length encoding (pycocotools)"
_REGION_FIELDS: dict[str, Schema] = {
    "index": INTEGER,
    "box": BOX,
    "label": STRING,
    "score": NUMBER,
    "top_k": {"type": "array", "items": SCORE, "description": "best class first"},
}
REGION = _of_type(Region, _REGION_FIELDS, omit=("mask",))
RESIZED = _of_type(Size, {"width": INTEGER, "height": INTEGER})
RESIZED["description"] = "the size the model saw, only when the image was shrunk to fit it"


def regions_schema(mode: Schema = MODE) -> Schema:
    """POST /classify-regions' answer, for a model with the modes of `mode` (a region has a
    mask only in superpixels mode)."""
    region = REGION
    if "superpixels" in mode["enum"]:
        region = _of_type(Region, _REGION_FIELDS | {"mask": MASK})
    return _of_type(
        RegionsAnswer,
        {
            "model": _of_type(ModelId, {"name": STRING, "version": STRING}),
            "image": _of_type(
                ImageSize, {"width": INTEGER, "height": INTEGER, "resized_to": RESIZED}
            ),
            "mode": mode,
            "regions": {"type": "array", "items": region},
            "timing_ms": {"type": "object", "additionalProperties": NUMBER},
        },
    )


REGIONS = regions_schema()
PROBLEM = _object(
    ["type", "title", "status", "detail"], type=STRING, title=STRING, status=INTEGER, detail=STRING
)
PROBLEM["description"] = "RFC 9457 problem details"
READY = _object(
    ["status", "provider", "model_file", "precision", "self_test"],
    status={"type": "string", "enum": ["ready"]},
    provider={"type": "string", "description": "the onnxruntime execution provider in use"},
    model_file=STRING,
    precision=PRECISION,
    self_test=STRING,
)
FOLLOWS_IMAGE = _object(
    ["axes", "divisor"],
    axes={"type": "array", "items": INTEGER},
    divisor=INTEGER,
)
FOLLOWS_IMAGE["description"] = "these axes are ceil(side / divisor) of the image as sent"
EXTRA_INPUT = _object(
    ["name", "dtype", "shape"],
    name=STRING,
    dtype={"type": "string", "description": "a NumPy dtype name: the .npy file's, exactly"},
    shape={"type": "array", "items": INTEGER, "description": "one image's; -1: any size"},
    follows_image=FOLLOWS_IMAGE,
    fixed_size={
        "type": "array",
        "items": INTEGER,
        "description": "axes 1 and 2 as the model fixes them: the value is sent at the image's "
        "size and padded to these",
    },
)
EXTRA_INPUT["additionalProperties"] = True
IMAGE_INPUT = _object(
    ["fixed_size", "max_side", "resize"],
    fixed_size={
        "type": ["array", "null"],
        "items": {"type": ["integer", "null"]},
        "description": "[height, width] the model fixes (null: free)",
    },
    max_side=INTEGER,
    resize={"type": "string", "description": "the one rule that brings images to the model"},
)


def model_schema(mode: Schema = MODE) -> Schema:
    """GET /v1/model's answer, for a model with the modes of `mode`."""
    model = _object(
        [
            "name",
            "version",
            "classes",
            "background_class",
            "input",
            "model_inputs",
            "provider",
            "model_file",
            "precision",
            "roi_lowering",
            "ready",
            "self_test",
        ],
        name=STRING,
        version=STRING,
        classes={"type": "array", "items": STRING, "description": "index = class id"},
        background_class={"type": "integer", "minimum": -1, "description": "-1: none"},
        input=_object(
            [
                "formats",
                "max_image_pixels",
                "working_max_side",
                "max_boxes",
                "modes",
                "extra_inputs",
            ],
            formats={"type": "array", "items": STRING},
            max_image_pixels=INTEGER,
            working_max_side=INTEGER,
            image=IMAGE_INPUT,
            max_boxes=INTEGER,
            modes={"type": "array", "items": mode},
            extra_inputs={"type": "array", "items": EXTRA_INPUT},
        ),
        model_inputs=_object(
            [
                "roles",
                "outputs",
                "image_dtype",
                "image_preprocessing",
                "stride",
                "rois_format",
                "pad_value",
                "proposal_head",
            ],
            roles={"type": "object", "additionalProperties": STRING},
            outputs={"type": "object", "additionalProperties": STRING},
            image_dtype={"type": "string", "enum": list(IMAGE_DTYPES)},
            image_preprocessing={"type": "object"},
            stride=INTEGER,
            rois_format={"type": ["string", "null"]},
            pad_value=INTEGER,
            proposal_head={
                "type": ["object", "null"],
                "description": "The outputs of the model's own proposal head (proposals mode "
                "runs it); null: proposals mode runs selective search.",
                "additionalProperties": STRING,
            },
        ),
        provider=STRING,
        model_file=STRING,
        precision=PRECISION,
        roi_lowering=STRING,
        ready={"type": "boolean"},
        self_test=STRING,
    )
    model["additionalProperties"] = False
    return model


MODEL = model_schema()
HEALTH = _object(["status"], status={"type": "string", "enum": ["ok"]})
