"""What the service reads from the ONNX file's metadata_props."""

import json
from dataclasses import dataclass


class ModelLoadError(RuntimeError):
    """The model file is missing or unusable; the message names the file and the problem."""


@dataclass(frozen=True)
class ModelInfo:
    name: str
    version: str
    classes: list[str]
    background_class: int
    stride: int
    pad_value: int
    max_image_side: int
    superpixel_area: int
    superpixel_compactness: float
    roi_lowering: str

    @classmethod
    def from_metadata(cls, path: str, props: dict[str, str]) -> "ModelInfo":
        try:
            return cls(
                name=props["name"],
                version=props["version"],
                classes=json.loads(props["classes"]),
                background_class=int(props["background_class"]),
                stride=int(props["stride"]),
                pad_value=int(props["pad_value"]),
                max_image_side=int(props["max_image_side"]),
                superpixel_area=int(props["superpixel_area"]),
                superpixel_compactness=float(props["superpixel_compactness"]),
                roi_lowering=props.get("roi_lowering", "unknown"),
            )
        except (KeyError, ValueError) as error:
            raise ModelLoadError(f"{path}: metadata_props lacks or garbles {error}") from error
