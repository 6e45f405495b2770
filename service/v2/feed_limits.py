"""The region API's limits on a raw feed: checked shapes and datatypes still let one request
ask the graph for any amount of memory (scores for superpixel id 2**31 - 1 are 8 GiB)."""

import numpy as np

from service.errors import PayloadTooLarge
from service.settings import Settings


def check_feed_limits(feed: dict[str, np.ndarray], roles: dict[str, str], s: Settings) -> None:
    """At most max_boxes rois per image and superpixel ids below max_superpixels."""
    images = feed.get(roles.get("image", ""))
    batch = images.shape[0] if images is not None and images.ndim else 1
    rois = feed.get(roles.get("rois", ""))
    count = (
        int(np.prod(rois.shape[:-1])) if rois is not None and rois.ndim else 0
    )  # (R, 5), (B, N, 4)
    if count > s.max_boxes * batch:
        raise PayloadTooLarge(
            f"input {roles['rois']!r}: {count} rois for {batch} images; the limit is "
            f"{s.max_boxes} per image"
        )
    ids = feed.get(roles.get("superpixels", ""))
    if ids is not None and ids.size and int(ids.max()) >= s.max_superpixels:
        raise PayloadTooLarge(
            f"input {roles['superpixels']!r}: superpixel id {int(ids.max())}; ids must stay "
            f"below max_superpixels ({s.max_superpixels})"
        )
