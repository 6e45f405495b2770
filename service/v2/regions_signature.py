"""What `<name>-regions` takes and gives: a batch of N encoded images, each with its box list
and the model's extra inputs, and the regions of all of them, image 0's first.

Inputs:
- `image` BYTES [N]: encoded images (JPEG, PNG, WebP, BMP, TIFF or GIF), N >= 1.
- `boxes` FP32 [B, 4], optional: [x1, y1, x2, y2] in pixels of each image as displayed, the
  boxes of image 0 first, then image 1's...; without them each image's regions are proposed.
- `box_counts` INT32 [N]: how many of the boxes each image has (sum B); may be left out when
  N is 1.
- `top_k` INT32 [1], optional: the labels and scores kept per region, for every image.
- each extra input of the model (a text map, say), under its own name and datatype: the
  region API's value for one image, stacked along a leading axis of N (an input whose axis 0
  is the model's batch axis takes the images along it: [N, H, W, C] for [1, H, W, C]).
Outputs: `labels` BYTES [R, K] and `scores` FP32 [R, K] (best class first), `boxes` FP32
[R, 4] of the R regions of all images in order, and `region_counts` INT32 [N], how many of
them each image has (split with numpy.split(x, numpy.cumsum(region_counts)[:-1]))."""

from dataclasses import dataclass

from service.inference.model_info import ModelInfo
from service.inference.model_inputs import ExtraInput
from service.v2.datatypes import BYTES, of_dtype
from service.v2.signature import ANY, TensorSpec

OWN_INPUTS = (
    TensorSpec("image", BYTES, (ANY,)),
    TensorSpec("boxes", "FP32", (ANY, 4), optional=True),
    TensorSpec("box_counts", "INT32", (ANY,), optional=True),
    TensorSpec("top_k", "INT32", (1,), optional=True),
)
OUTPUTS = (
    TensorSpec("labels", BYTES, (ANY, ANY)),
    TensorSpec("scores", "FP32", (ANY, ANY)),
    TensorSpec("boxes", "FP32", (ANY, 4)),
    TensorSpec("region_counts", "INT32", (ANY,)),
)


@dataclass(frozen=True)
class ExtraTensor:
    """An extra input of the model as `-regions` takes it, N images at once."""

    name: str  # the V2 input's name: the model's, unless one of OWN_INPUTS has it
    extra: ExtraInput

    @property
    def spec(self) -> TensorSpec:
        dims = tuple(ANY if d is None else d for d in self.extra.shape)
        per_image = dims[1:] if self.extra.batched else dims
        return TensorSpec(self.name, of_dtype(self.extra.dtype), (ANY, *per_image))


def extra_tensors(info: ModelInfo) -> tuple[ExtraTensor, ...]:
    """An extra input named like one of `-regions`' own takes the suffix `_input`."""
    taken = {spec.name for spec in OWN_INPUTS}
    return tuple(
        ExtraTensor(e.name if e.name not in taken else f"{e.name}_input", e)
        for e in info.extra_inputs
    )
