"""The region API's limits held on a raw feed, from the header's shapes before any tensor is
decoded, then from the values and the answer's estimated size before the run: checked shapes
and datatypes still let one request ask the graph for any amount of memory (a 2540x2540
image of zeros is 700 MiB of feature maps; scores for superpixel id 2**31 - 1 are 8 GiB).

Per request, as one run of the region API at most: `max_batch_size` images at the model's
bound (`max_image_side`, or its fixed sides), `max_boxes` rois per image of that batch, and
never more than `queue_size` images (the `-regions` model's limit)."""

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from service.errors import BadRequest, PayloadTooLarge
from service.runtime import ModelRuntime
from service.v2.outputs import Wanted
from service.v2.schemas import RequestInput

# Bytes per element of an answer: binary is the dtype's size; JSON writes a float32 score as
# up to 22 characters and a comma.
JSON_BYTES_PER_VALUE = 24
IGNORED = -1  # a superpixel id that marks a pixel no superpixel takes (the feed's padding)


@dataclass(frozen=True)
class FeedLimits:
    roles: dict[str, str]  # role (image, rois, superpixels) -> input name
    heads: dict[str, str]  # head (rois, superpixels) -> output name
    bound: tuple[int, int]  # (height, width) of one image at most
    images: int
    pixels: int
    rois: int
    superpixels: int
    classes: int
    answer_bytes: int

    @classmethod
    def of(cls, runtime: ModelRuntime) -> "FeedLimits":
        s, info, batch = runtime.settings, runtime.info, runtime.batcher.max_batch_size
        height, width = info.bound
        return cls(
            roles=dict(info.inputs),
            heads=dict(info.outputs),
            bound=(height, width),
            images=s.queue_size,
            pixels=batch * height * width,
            rois=batch * s.max_boxes,
            superpixels=s.max_superpixels,
            classes=len(info.classes),
            answer_bytes=s.max_answer_mib * 2**20,
        )

    def check_shapes(self, inputs: Sequence[RequestInput]) -> None:
        """From the declared shapes alone, before a byte of data is decoded."""
        shapes = {item.name: item.shape for item in inputs}
        image = shapes.get(self.roles.get("image", ""))
        if image is not None and len(image) == 4:
            self._check_images(image)
        rois = shapes.get(self.roles.get("rois", ""))
        count = math.prod(rois[:-1]) if rois else 0  # (R, 5) or (B, N, 4)
        if count > self.rois:
            raise PayloadTooLarge(
                f"input {self.roles['rois']!r}: {count} rois; the limit is {self.rois} per "
                "request (max_boxes for each image of a batch of max_batch_size)"
            )
        grid = shapes.get(self.roles.get("superpixels", ""))
        if grid is not None and math.prod(grid) > self.pixels:
            raise PayloadTooLarge(
                f"input {self.roles['superpixels']!r}: {math.prod(grid)} cells; the limit is "
                f"{self.pixels} per request"
            )

    def _check_images(self, shape: Sequence[int]) -> None:
        name = self.roles["image"]
        batch, height, width = shape[0], shape[1], shape[2]
        if batch > self.images:
            raise PayloadTooLarge(
                f"input {name!r}: {batch} images; a request takes at most {self.images} "
                "(queue_size)"
            )
        if height > self.bound[0] or width > self.bound[1]:
            raise PayloadTooLarge(
                f"input {name!r}: images of {width}x{height}; the model takes at most "
                f"{self.bound[1]}x{self.bound[0]} (max_image_side)"
            )
        if batch * height * width > self.pixels:
            raise PayloadTooLarge(
                f"input {name!r}: {batch * height * width} pixels; the limit is {self.pixels} "
                "per request (max_batch_size images at the model's largest side)"
            )

    def check_values(self, feed: dict[str, np.ndarray], wanted: Sequence[Wanted]) -> None:
        """Superpixel ids, then the answer's size estimated from them, before the run."""
        ids = feed.get(self.roles.get("superpixels", ""))
        largest = IGNORED
        if ids is not None and ids.size:
            largest, smallest = int(ids.max()), int(ids.min())
            name = self.roles["superpixels"]
            if largest >= self.superpixels:
                raise PayloadTooLarge(
                    f"input {name!r}: superpixel id {largest}; ids must stay below "
                    f"max_superpixels ({self.superpixels})"
                )
            if smallest < IGNORED:
                raise BadRequest(
                    f"input {name!r}: superpixel id {smallest}; ids are {IGNORED} (no "
                    "superpixel) or from 0"
                )
        self._check_answer(feed, wanted, largest + 1)

    def _check_answer(
        self, feed: dict[str, np.ndarray], wanted: Sequence[Wanted], superpixels: int
    ) -> None:
        image = feed.get(self.roles.get("image", ""))
        batch = image.shape[0] if image is not None and image.ndim else 1
        rois = feed.get(self.roles.get("rois", ""))
        roi_count = math.prod(rois.shape[:-1]) if rois is not None and rois.ndim else 0
        rows = {
            self.heads.get("rois"): roi_count,
            self.heads.get("superpixels"): batch * superpixels,
        }
        size = sum(
            rows.get(want.name, 0) * self.classes * (4 if want.binary else JSON_BYTES_PER_VALUE)
            for want in wanted
        )
        if size > self.answer_bytes:
            raise PayloadTooLarge(
                f"the answer would take about {size / 2**20:.0f} MiB; the limit is "
                f"{self.answer_bytes / 2**20:.0f} MiB (max_answer_mib): ask for binary_data "
                "or send fewer images"
            )
