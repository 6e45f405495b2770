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

from service.model_inputs import (
    ExtraInput,
    NodeArg,
    Sample,
    extra_inputs,
    height_width,
    input_shapes,
    numpy_dtype,
)

CONTRACT_VERSION = "1"
ROIS_FORMATS = ("indexed", "batched")  # (R, 5) [batch_index, x1, y1, x2, y2] | (B, N, 4)
IMAGE_DTYPES = ("uint8", "float32")


class ModelLoadError(RuntimeError):
    """The model file is missing or unusable; the message names the file and the problem."""


@dataclass(frozen=True)
class Preprocessing:
    """A float32 image is fed (pixels * scale - mean) / std, as the export declared."""

    scale: float
    mean: tuple[float, ...]
    std: tuple[float, ...]

    def apply(self, pixels: np.ndarray) -> np.ndarray:
        """In float32, in one array the size of the result (a batch of large images)."""
        out = np.multiply(pixels, np.float32(self.scale), dtype=np.float32)
        out -= np.asarray(self.mean, np.float32)
        out /= np.asarray(self.std, np.float32)
        return out


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
    if props.get("regionserve_contract") != CONTRACT_VERSION:
        raise ValueError(
            f"regionserve_contract is {props.get('regionserve_contract')!r}, not "
            f"{CONTRACT_VERSION!r}: export the model with `python -m model_export export`"
        )
    classes = _json(props, "classes", list)
    inputs, outputs = _json(props, "inputs", dict), _json(props, "outputs", dict)
    _check_heads(inputs, outputs)
    recorded = _json(props, "input_shapes", dict) if "input_shapes" in props else {}
    shapes = input_shapes(signature, recorded)
    image_size = height_width(shapes.get(inputs["image"], ()))
    names = _json(props, "extra_inputs", list)
    extras = extra_inputs(names, signature, samples, inputs["image"], image_size)
    _check_signature(signature, [*inputs.values(), *(e.name for e in extras)])
    image_dtype = _choice(props, "image_dtype", IMAGE_DTYPES)
    background = int(props["background_class"])
    if not -1 <= background < len(classes):
        raise ValueError(f"background_class {background} is not -1 or a class id")
    return ModelInfo(
        name=props["name"],
        version=props["version"],
        classes=[str(c) for c in classes],
        background_class=background,
        inputs=inputs,
        outputs=outputs,
        extra_inputs=extras,
        input_dtypes={node.name: numpy_dtype(node.type) for node in signature},
        input_shapes=shapes,
        image_dtype=image_dtype,
        preprocessing=_preprocessing(props) if image_dtype == "float32" else None,
        stride=_positive(props, "stride"),
        pad_value=int(props["pad_value"]),
        max_image_side=_max_side(image_size) or _positive(props, "max_image_side"),
        rois_format=_choice(props, "rois_format", ROIS_FORMATS) if "rois" in inputs else None,
        superpixel=_superpixel(props) if "superpixels" in inputs else None,
        roi_lowering=props.get("roi_lowering", "none"),
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


def _preprocessing(props: Mapping[str, str]) -> Preprocessing:
    prep = _json(props, "image_preprocessing", dict)
    mean = tuple(float(v) for v in prep.get("mean", (0.0, 0.0, 0.0)))
    std = tuple(float(v) for v in prep.get("std", (1.0, 1.0, 1.0)))
    if len(mean) != 3 or len(std) != 3 or 0.0 in std:
        raise ValueError("image_preprocessing needs 3 means and 3 non-zero stds")
    return Preprocessing(float(prep.get("scale", 1.0)), mean, std)


def _superpixel(props: Mapping[str, str]) -> SuperpixelSettings:
    return SuperpixelSettings(
        _positive(props, "superpixel_area"), float(props["superpixel_compactness"])
    )
