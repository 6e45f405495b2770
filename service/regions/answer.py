"""The pipeline's answer for one image, typed and frozen: built once by the pipeline, then
rendered by each protocol: the region API's JSON (`as_json`), its OpenAPI schema
(`service.region_api.openapi_schemas` reads these fields) and V2 `-regions`' tensors
(`service.v2.regions_batch`). A field added here must be documented there, or the schema
fails to build."""

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ModelId:
    name: str
    version: str


@dataclass(frozen=True, slots=True)
class Size:
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class ImageSize:
    width: int  # as displayed (EXIF orientation applied)
    height: int
    resized_to: Size | None = None  # the size the model saw, only when the image was shrunk


@dataclass(frozen=True, slots=True)
class ClassScore:
    label: str
    score: float  # rounded to 6 decimals


@dataclass(frozen=True, slots=True)
class Mask:
    """A COCO run-length encoding (pycocotools), column-major, at the image's size."""

    size: tuple[int, int]  # (height, width)
    counts: str


@dataclass(frozen=True, slots=True)
class Region:
    index: int
    box: tuple[float, float, float, float]  # [x1, y1, x2, y2] in image pixels, 2 decimals
    label: str
    score: float
    top_k: tuple[ClassScore, ...]  # best class first
    mask: Mask | None = None  # superpixels mode only

    def as_json(self) -> dict[str, Any]:
        region: dict[str, Any] = {
            "index": self.index,
            "box": list(self.box),
            "label": self.label,
            "score": self.score,
            "top_k": [{"label": c.label, "score": c.score} for c in self.top_k],
        }
        if self.mask is not None:
            region["mask"] = {"size": list(self.mask.size), "counts": self.mask.counts}
        return region


@dataclass(frozen=True, slots=True)
class RegionsAnswer:
    model: ModelId
    image: ImageSize
    mode: str
    regions: tuple[Region, ...]
    timing_ms: dict[str, float]  # decode, prepare, inference, total

    def as_json(self) -> dict[str, Any]:
        """POST /classify-regions' body, in its order; optional fields only when set."""
        image: dict[str, Any] = {"width": self.image.width, "height": self.image.height}
        if self.image.resized_to is not None:
            resized = self.image.resized_to
            image["resized_to"] = {"width": resized.width, "height": resized.height}
        return {
            "model": {"name": self.model.name, "version": self.model.version},
            "image": image,
            "mode": self.mode,
            "regions": [region.as_json() for region in self.regions],
            "timing_ms": self.timing_ms,
        }
