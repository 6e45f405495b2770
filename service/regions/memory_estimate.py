"""What one image of the region API takes in memory from decoding to its inference, from its
header alone: what the memory budget (service/inference/memory_budget.py) reserves for it.

The decode at its full (or drafted) size, the copies conversion and reduction make and the
working-size images (`decoding_bytes`, the figure REGIONSERVE_MAX_DECODE_MIB is held to),
plus the model's float32 feed at the working size. An image the decoder will refuse (too many
pixels, too much to decode, a header Pillow cannot read) reserves nothing: it is refused at
once, not after waiting for memory it will never use."""

import io
import warnings

from PIL import Image, UnidentifiedImageError
from starlette.concurrency import run_in_threadpool

from service.regions.imaging import FORMATS, UNREADABLE, decoding_bytes
from service.regions.picture import Bound, as_bound, working_size

FEED_BYTES_PER_PIXEL = 3 * 4  # RGB, float32, at the working size
# Larger files have their header read in a thread: a PNG may carry megabytes of text chunks
# before its pixels, which Pillow reads (and inflates) as it opens the file.
INLINE_BYTES = 256 * 2**10


async def reservation(
    data: bytes, max_pixels: int, bound: int | Bound | None, max_bytes: int
) -> int:
    """`image_bytes`, off the event loop for large files."""
    if len(data) <= INLINE_BYTES:
        return image_bytes(data, max_pixels, bound, max_bytes)
    return await run_in_threadpool(image_bytes, data, max_pixels, bound, max_bytes)


def image_bytes(data: bytes, max_pixels: int, bound: int | Bound | None, max_bytes: int) -> int:
    """Bytes to reserve for decoding `data` and feeding it to the model; 0 when the decoder
    will refuse it. Reads the header only (Pillow opens lazily)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=FORMATS)
    except (Image.DecompressionBombError, UnidentifiedImageError, *UNREADABLE):
        return 0
    with image:
        width, height = image.size
        if width * height > max_pixels:
            return 0
        limit = as_bound(bound)
        turned = None if limit is None else (limit[1], limit[0])
        # the EXIF orientation is read later: take the larger of both ways the bound may hold
        size = max(
            working_size(width, height, limit)[0],
            working_size(width, height, turned)[0],
            key=lambda s: s[0] * s[1],
        )
        if image.format in ("JPEG", "MPO") and size != (width, height):
            image.draft(image.mode, size)  # as the decoder drafts: 1/2, 1/4 or 1/8
        needed = decoding_bytes(image, (width, height), size)
    if needed > max_bytes:
        return 0
    return needed + size[0] * size[1] * FEED_BYTES_PER_PIXEL
