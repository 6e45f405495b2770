"""The pipeline's answer for one image, typed and frozen: built once by the pipeline, then
rendered by each protocol: the region API's JSON (`as_json`), its OpenAPI schema
(`service.region_api.openapi_schemas` reads these fields) and V2 `-regions`' tensors
(`service.v2.regions_batch`). A field added here must be documented there, or the schema
fails to build. The regions are held as columns (`RegionColumns`): one array per field, a
`Region` object made only when one is read, and the JSON written from the columns at once
(`service.regions.answer_json`)."""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, overload

import numpy as np


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


@dataclass(frozen=True, slots=True, eq=False)
class MaskColumn:
    """The COCO RLE masks of many regions, all of one size: mask i's counts are
    text[starts[i]:ends[i]]."""

    size: tuple[int, int]  # (height, width)
    text: str
    starts: np.ndarray
    ends: np.ndarray

    def __len__(self) -> int:
        return len(self.starts)

    def mask(self, i: int) -> Mask:
        return Mask(self.size, self.text[self.starts[i] : self.ends[i]])

    def take(self, rows: np.ndarray) -> "MaskColumn":
        return MaskColumn(self.size, self.text, self.starts[rows], self.ends[rows])


@dataclass(frozen=True, slots=True, eq=False)
class RegionColumns(Sequence[Region]):
    """Regions as columns, row i is region i (indexed from 0): read as a sequence of
    `Region`, each made when it is read."""

    classes: tuple[str, ...]  # label of each class id
    boxes: np.ndarray  # (R, 4) float64, rounded to 2 decimals
    top_classes: np.ndarray  # (R, k) class ids, best first
    top_scores: np.ndarray  # (R, k) float64, rounded to 6 decimals
    masks: MaskColumn | None = None  # superpixels mode only

    def __len__(self) -> int:
        return len(self.top_classes)

    @overload
    def __getitem__(self, i: int) -> Region: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[Region]: ...
    def __getitem__(self, i: int | slice) -> Region | Sequence[Region]:
        if isinstance(i, slice):
            return tuple(self[j] for j in range(*i.indices(len(self))))
        i = range(len(self))[i]  # negative indices, IndexError
        names = [self.classes[c] for c in self.top_classes[i].tolist()]
        values = self.top_scores[i].tolist()
        x1, y1, x2, y2 = self.boxes[i].tolist()
        top = tuple(map(ClassScore, names, values))
        mask = None if self.masks is None else self.masks.mask(i)
        return Region(i, (x1, y1, x2, y2), names[0], values[0], top, mask)

    def __iter__(self) -> Iterator[Region]:
        return (self[i] for i in range(len(self)))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence):
            return NotImplemented
        return list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class RegionsAnswer:
    model: ModelId
    image: ImageSize
    mode: str
    regions: Sequence[Region]  # RegionColumns from the pipeline
    timing_ms: dict[str, float]  # decode, prepare, inference, total

    def as_json(self) -> dict[str, Any]:
        """POST /classify-regions' body, in its order; optional fields only when set."""
        return {
            **self.head_json(),
            "regions": [region.as_json() for region in self.regions],
            "timing_ms": self.timing_ms,
        }

    def head_json(self) -> dict[str, Any]:
        """The body's fields before its regions."""
        image: dict[str, Any] = {"width": self.image.width, "height": self.image.height}
        if self.image.resized_to is not None:
            resized = self.image.resized_to
            image["resized_to"] = {"width": resized.width, "height": resized.height}
        return {
            "model": {"name": self.model.name, "version": self.model.version},
            "image": image,
            "mode": self.mode,
        }
