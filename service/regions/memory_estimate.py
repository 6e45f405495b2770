"""What one image of the region API takes in memory from decoding to its inference, from its
header alone: what the memory budget (service/inference/memory_budget.py) reserves for it.

The decode at its full (or drafted) size, the copies conversion and reduction make and the
working-size images (`decoding_bytes`, the figure REGIONSERVE_MAX_DECODE_MIB is held to),
plus the model's float32 feed at the working size. An image the decoder will refuse (too many
pixels, too much to decode, a header Pillow cannot read) reserves nothing: it is refused at
once, not after waiting for memory it will never use. A plain JPEG within the bound (the
commonest upload) is read from its markers (service/regions/jpeg_header.py), the rest by
Pillow, as the decoder reads them."""

from PIL import Image
from starlette.concurrency import run_in_threadpool

from service.errors import ServiceError
from service.regions.imaging import decoding_bytes_of, open_image, plan_decode
from service.regions.jpeg_header import PlainJpeg, plain_jpeg
from service.regions.picture import Bound, working_size
from service.regions.png_header import small_png_header

FEED_BYTES_PER_PIXEL = 3 * 4  # RGB, float32, at the working size
# Larger files have their header read in a thread: a PNG may carry megabytes of text chunks
# before its pixels, which Pillow reads (and inflates) as it opens the file.
INLINE_BYTES = 256 * 2**10


async def reservation(
    data: bytes, max_pixels: int, bound: int | Bound | None, max_bytes: int
) -> int:
    """`image_bytes`, off the event loop for large files whose header Pillow may be slow to
    read (a plain JPEG's is read from its markers; a PNG's may be small)."""
    if len(data) <= INLINE_BYTES or small_png_header(data):
        return image_bytes(data, max_pixels, bound, max_bytes)
    plain = plain_jpeg(data)
    if plain is not None and _within(plain, bound):
        return _plain_jpeg_bytes(plain, max_pixels, max_bytes)
    return await run_in_threadpool(image_bytes, data, max_pixels, bound, max_bytes)


def image_bytes(data: bytes, max_pixels: int, bound: int | Bound | None, max_bytes: int) -> int:
    """Bytes to reserve for decoding `data` and feeding it to the model, planned as the
    decoder plans it; 0 when the decoder will refuse it. Reads the header only."""
    plain = plain_jpeg(data)
    if plain is not None and _within(plain, bound):
        return _plain_jpeg_bytes(plain, max_pixels, max_bytes)
    try:
        with open_image(data) as image:
            plan = plan_decode(image, max_pixels, bound, max_bytes)
    except ServiceError:
        return 0
    return plan.needed + plan.size[0] * plan.size[1] * FEED_BYTES_PER_PIXEL


def _within(jpeg: PlainJpeg, bound: int | Bound | None) -> bool:
    """Decoded at full size: no draft, so no Pillow needed to plan it."""
    return working_size(jpeg.width, jpeg.height, bound)[1] == 1.0


def _plain_jpeg_bytes(jpeg: PlainJpeg, max_pixels: int, max_bytes: int) -> int:
    """`image_bytes` of a plain JPEG within the bound (no draft, no orientation), from its
    markers: the same refusals (Pillow's decompression-bomb limit too) and the same sum."""
    full = (jpeg.width, jpeg.height)
    pixels = jpeg.width * jpeg.height
    bomb = Image.MAX_IMAGE_PIXELS is not None and pixels > Image.MAX_IMAGE_PIXELS
    needed = decoding_bytes_of(full, jpeg.mode, "JPEG", False, full, full)
    if pixels > max_pixels or bomb or needed > max_bytes:
        return 0
    return needed + pixels * FEED_BYTES_PER_PIXEL
