"""JSON schemas of the answers that FastAPI cannot derive: the routes build their bodies
themselves. Tests validate real answers against them."""

from typing import Any

from service.pipeline import MODES

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
MODE: Schema = {
    "type": "string",
    "enum": list(MODES),
    "description": "default: 'boxes' when boxes are given, else 'proposals'; only the modes "
    "that the model's heads offer are accepted (GET /v1/model: input.modes)",
}
# What base64.b64decode(validate=True) takes: the standard alphabet, padded, nothing else.
BASE64_PATTERN = r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"


def _object(required: list[str], **properties: Schema) -> Schema:
    return {"type": "object", "required": required, "properties": properties}


SCORE = _object(["label", "score"], label=STRING, score=NUMBER)
MASK = _object(
    ["size", "counts"],
    size={"type": "array", "items": INTEGER, "minItems": 2, "maxItems": 2},
    counts={"type": "string", "description": "compressed COCO counts, column-major"},
)
MASK["description"] = "superpixels mode only: a COCO run-length encoding (pycocotools)"
REGION = _object(
    ["index", "box", "label", "score", "top_k"],
    index=INTEGER,
    box=BOX,
    label=STRING,
    score=NUMBER,
    top_k={"type": "array", "items": SCORE, "description": "best class first"},
    mask=MASK,
)
REGIONS = _object(
    ["model", "image", "mode", "regions", "timing_ms"],
    model=_object(["name", "version"], name=STRING, version=STRING),
    image=_object(["width", "height"], width=INTEGER, height=INTEGER),
    mode=MODE,
    regions={"type": "array", "items": REGION},
    timing_ms={"type": "object", "additionalProperties": NUMBER},
)
PROBLEM = _object(
    ["type", "title", "status", "detail"], type=STRING, title=STRING, status=INTEGER, detail=STRING
)
PROBLEM["description"] = "RFC 9457 problem details"
READY = _object(
    ["status", "provider", "model_file", "self_test"],
    status={"type": "string", "enum": ["ready"]},
    provider={"type": "string", "description": "the onnxruntime execution provider in use"},
    model_file=STRING,
    self_test=STRING,
)
EXTRA_INPUT = _object(
    ["name", "dtype", "shape"],
    name=STRING,
    dtype=STRING,
    shape={"type": "array", "items": INTEGER, "description": "-1: any size"},
)
EXTRA_INPUT["additionalProperties"] = True  # follows_image, for axes sized by the image
MODEL = _object(
    [
        "name",
        "version",
        "classes",
        "background_class",
        "input",
        "model_inputs",
        "provider",
        "model_file",
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
        max_boxes=INTEGER,
        modes={"type": "array", "items": MODE},
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
        ],
        roles={"type": "object", "additionalProperties": STRING},
        outputs={"type": "object", "additionalProperties": STRING},
        image_dtype={"type": "string", "enum": ["uint8", "float32"]},
        image_preprocessing={"type": "object"},
        stride=INTEGER,
        rois_format={"type": ["string", "null"]},
        pad_value=INTEGER,
    ),
    provider=STRING,
    model_file=STRING,
    roi_lowering=STRING,
    ready={"type": "boolean"},
    self_test=STRING,
)
MODEL["additionalProperties"] = False
HEALTH = _object(["status"], status={"type": "string", "enum": ["ok"]})
