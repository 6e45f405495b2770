"""What the service reads from the model: the contract's metadata_props (the README's table
"What the ONNX file carries") and the session's signature.

Nothing here assumes the shipped digit model: roles, names, heads, stride, classes and image
format all come from the file.
"""

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from regionserve_contract.metadata import (
    CONTRACT_VERSION,
    IMAGE_DTYPES,
    PROPOSAL_HEAD_PARTS,
    ROIS_FORMATS,
    Key,
)
from regionserve_contract.preprocessing import Preprocessing
from service.inference.model_inputs import (
    ExtraInput,
    NodeArg,
    Sample,
    extra_inputs,
    height_width,
    input_shapes,
    numpy_dtype,
)


class ModelLoadError(RuntimeError):
    """The model file is missing or unusable; the message names the file and the problem."""


@dataclass(frozen=True)
class SuperpixelSettings:
    area: int  # SLIC pixels per superpixel
    compactness: float


@dataclass(frozen=True)
class ModelInfo:
    name: str
    version: str
    classes: list[str]
    background_class: int  # -1: none
    inputs: dict[str, str]  # role (image, rois, superpixels) -> ONNX input name
    outputs: dict[str, str]  # head (rois, superpixels) -> ONNX output name
    extra_inputs: tuple[ExtraInput, ...]
    input_dtypes: dict[str, np.dtype]  # ONNX input name -> dtype of the signature
    input_shapes: dict[str, tuple[int | None, ...]]  # ONNX input name -> sizes, None: free
    image_dtype: str
    preprocessing: Preprocessing | None  # None for uint8 images
    stride: int
    pad_value: int
    max_image_side: int  # a fixed image's long side; else the metadata's
    rois_format: str | None  # None without a RoI head
    superpixel: SuperpixelSettings | None  # None without a superpixel head
    roi_lowering: str
    # head part (proposals, objectness, scores) -> ONNX output name; None: classical proposals
    proposal_head: dict[str, str] | None = None

    @property
    def modes(self) -> tuple[str, ...]:
        """The modes the heads allow: boxes and proposals need RoI pooling."""
        rois = ("boxes", "proposals") if "rois" in self.inputs else ()
        return rois + (("superpixels",) if "superpixels" in self.inputs else ())

    @property
    def image_size(self) -> tuple[int | None, int | None]:
        """The image's (height, width) as the model fixes them; None where free."""
        return height_width(self.input_shapes.get(self.inputs["image"], ()))

    @property
    def bound(self) -> tuple[int, int]:
        """(height, width) an image may have at the model: its fixed sizes, else max_image_side."""
        height, width = self.image_size
        return height or self.max_image_side, width or self.max_image_side

    @classmethod
    def from_metadata(
        cls,
        path: str,
        props: Mapping[str, str],
        signature: Sequence[NodeArg] = (),
        samples: Sequence[Sample] | None = None,
    ) -> "ModelInfo":
        """The model of `path` from its metadata_props, its session's inputs (`signature`:
        dtypes and the extra inputs' shapes) and its recorded samples (how the spatial
        sizes of extra inputs follow the image)."""
        try:
            return _read(props, signature, samples or ())
        except KeyError as error:
            raise ModelLoadError(f"{path}: metadata_props lacks {error}") from error
        except (ValueError, TypeError) as error:
            raise ModelLoadError(f"{path}: metadata_props: {error}") from error


def _read(
    props: Mapping[str, str], signature: Sequence[NodeArg], samples: Sequence[Sample]
) -> ModelInfo:
    if props.get(Key.CONTRACT) != CONTRACT_VERSION:
        raise ValueError(
            f"{Key.CONTRACT} is {props.get(Key.CONTRACT)!r}, not "
            f"{CONTRACT_VERSION!r}: export the model with `python -m model_export export`"
        )
    classes = _json(props, Key.CLASSES, list)
    inputs, outputs = _json(props, Key.INPUTS, dict), _json(props, Key.OUTPUTS, dict)
    _check_heads(inputs, outputs)
    recorded = _json(props, Key.INPUT_SHAPES, dict) if Key.INPUT_SHAPES in props else {}
    shapes = input_shapes(signature, recorded)
    image_size = height_width(shapes.get(inputs["image"], ()))
    names = _json(props, Key.EXTRA_INPUTS, list)
    extras = extra_inputs(names, signature, samples, inputs["image"], image_size)
    _check_signature(signature, [*inputs.values(), *(e.name for e in extras)])
    image_dtype = _choice(props, Key.IMAGE_DTYPE, IMAGE_DTYPES)
    background = int(props[Key.BACKGROUND_CLASS])
    if not -1 <= background < len(classes):
        raise ValueError(f"background_class {background} is not -1 or a class id")
    return ModelInfo(
        name=props[Key.NAME],
        version=props[Key.VERSION],
        classes=[str(c) for c in classes],
        background_class=background,
        inputs=inputs,
        outputs=outputs,
        extra_inputs=extras,
        input_dtypes={node.name: numpy_dtype(node.type) for node in signature},
        input_shapes=shapes,
        image_dtype=image_dtype,
        preprocessing=_preprocessing(props) if image_dtype == "float32" else None,
        stride=_positive(props, Key.STRIDE),
        pad_value=int(props[Key.PAD_VALUE]),
        max_image_side=_max_side(image_size) or _positive(props, Key.MAX_IMAGE_SIDE),
        rois_format=_choice(props, Key.ROIS_FORMAT, ROIS_FORMATS) if "rois" in inputs else None,
        superpixel=_superpixel(props) if "superpixels" in inputs else None,
        roi_lowering=props.get(Key.ROI_LOWERING, "none"),
        proposal_head=_proposal_head(props, inputs) if Key.PROPOSAL_HEAD in props else None,
    )


def _check_signature(signature: Sequence[NodeArg], fed: list[str]) -> None:
    """The service feeds exactly the model's inputs (a file read without its session: any)."""
    if signature and sorted(fed) != sorted(node.name for node in signature):
        names = sorted(node.name for node in signature)
        raise ValueError(f"roles and extra_inputs name {sorted(fed)}; the model takes {names}")


def _max_side(image_size: tuple[int | None, int | None]) -> int | None:
    """A fixed image's long side; None unless both sides are fixed."""
    height, width = image_size
    return None if height is None or width is None else max(height, width)


def _json(props: Mapping[str, str], key: str, kind: type) -> Any:
    value = json.loads(props[key])
    if not isinstance(value, kind):
        raise ValueError(f"{key} is not a JSON {kind.__name__}")
    return value


def _choice(props: Mapping[str, str], key: str, allowed: tuple[str, ...]) -> str:
    if props[key] not in allowed:
        raise ValueError(f"{key} is {props[key]!r}, not one of {list(allowed)}")
    return props[key]


def _positive(props: Mapping[str, str], key: str) -> int:
    value = int(props[key])
    if value < 1:
        raise ValueError(f"{key} is {value}; it must be at least 1")
    return value


def _check_heads(inputs: dict[str, str], outputs: dict[str, str]) -> None:
    if "image" not in inputs:
        raise ValueError("inputs names no image input")
    heads = [role for role in ("rois", "superpixels") if role in inputs]
    if not heads:
        raise ValueError("the model has neither a rois nor a superpixels input")
    if sorted(outputs) != sorted(heads):
        raise ValueError(f"outputs names heads {sorted(outputs)}, the inputs {heads}")


def _proposal_head(props: Mapping[str, str], inputs: dict[str, str]) -> dict[str, str]:
    head = _json(props, Key.PROPOSAL_HEAD, dict)
    if sorted(head) != sorted(PROPOSAL_HEAD_PARTS) or not all(
        isinstance(v, str) for v in head.values()
    ):
        raise ValueError(f"{Key.PROPOSAL_HEAD} must name outputs {list(PROPOSAL_HEAD_PARTS)}")
    if "rois" not in inputs:
        raise ValueError(f"{Key.PROPOSAL_HEAD} needs a RoI head (a rois input)")
    return {part: str(name) for part, name in head.items()}


def _preprocessing(props: Mapping[str, str]) -> Preprocessing:
    return Preprocessing.from_metadata(_json(props, Key.IMAGE_PREPROCESSING, dict))


def _superpixel(props: Mapping[str, str]) -> SuperpixelSettings:
    return SuperpixelSettings(
        _positive(props, Key.SUPERPIXEL_AREA), float(props[Key.SUPERPIXEL_COMPACTNESS])
    )
