"""What one image of the region API takes in memory from decoding to its inference, from its
header alone: what the memory budget (service/inference/memory_budget.py) reserves for it.

The decode at its full (or drafted) size, the copies conversion and reduction make and the
working-size images (`decoding_bytes`, the figure REGIONSERVE_MAX_DECODE_MIB is held to),
plus the model's float32 feed at the working size. An image the decoder will refuse (too many
pixels, too much to decode, a header Pillow cannot read) reserves nothing: it is refused at
once, not after waiting for memory it will never use."""

from starlette.concurrency import run_in_threadpool

from service.errors import ServiceError
from service.regions.imaging import open_image, plan_decode
from service.regions.picture import Bound

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
    """Bytes to reserve for decoding `data` and feeding it to the model, planned as the
    decoder plans it; 0 when the decoder will refuse it. Reads the header only."""
    try:
        with open_image(data) as image:
            plan = plan_decode(image, max_pixels, bound, max_bytes)
    except ServiceError:
        return 0
    return plan.needed + plan.size[0] * plan.size[1] * FEED_BYTES_PER_PIXEL
