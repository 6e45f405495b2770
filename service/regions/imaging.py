"""Image decoding with Pillow: limits checked from the header, reduced early, RGB out.

Memory: what decoding one image takes is estimated from its header before any pixel is
decoded (`decoding_bytes`) and refused past the budget. Large JPEGs decode already reduced
towards the working size (libjpeg's DCT scaling by 1/2, 1/4 or 1/8); other formats are
reduced right after decoding, in their own mode (wide greys first mapped to 8 bits strip by
strip), and the EXIF orientation is applied to the reduced image.

Pixels: Pillow reads every header; the commonest files (8-bit RGB or grey JPEG and PNG that
need no draft) decode through simplejpeg or Wuffs straight into the array (fast_decode.py),
pixel for pixel what Pillow decodes, and faster (bench/RESULTS.md: front end).
"""

import io
import struct
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFile, UnidentifiedImageError

from service.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType
from service.regions.fast_decode import fast_pixels
from service.regions.picture import Bound, Picture, as_bound, shrink, working_size

FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "TIFF", "GIF")
WHITE = (255, 255, 255)
WIDE_GREYS = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")
ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")
STRIP_ROWS = 256  # rows of a wide grey image mapped to 8 bits at a time
# Errors Pillow's decoders raise on broken files (struct.error: a truncated EXIF or MPO table).
UNREADABLE = (OSError, SyntaxError, ValueError, EOFError, struct.error)
ORIENTATION = 0x0112
TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


@dataclass(frozen=True)
class DecodePlan:
    """How an opened image will be decoded, read from its header alone."""

    size: tuple[int, int]  # the working size, in the stored orientation
    scale: float
    orientation: int  # EXIF, for JPEG (read with the header); 1 for the rest until decoded
    needed: int  # peak bytes (`decoding_bytes`)


def plan_decode(
    image: Image.Image, max_pixels: int, bound: int | Bound | None, max_bytes: int
) -> DecodePlan:
    """The decode of an opened image within the limits (PayloadTooLarge past them); a JPEG
    is set to draft at 1/2, 1/4 or 1/8 where that still covers the working size."""
    width, height = image.size
    if width * height > max_pixels:
        raise PayloadTooLarge(
            f"image is {width}x{height} = {width * height} pixels; the limit is {max_pixels}"
        )
    jpeg = image.format in ("JPEG", "MPO")  # its EXIF is read with the header
    orientation = _orientation(image) if jpeg else 1
    size, scale = _stored_size(width, height, bound, orientation)
    if jpeg and scale < 1:
        image.draft(image.mode, size)
    needed = decoding_bytes(image, (width, height), size)
    if needed > max_bytes:
        raise PayloadTooLarge(
            f"decoding this {width}x{height} {image.mode} image takes about "
            f"{needed / 2**20:.0f} MiB; the limit is {max_bytes / 2**20:.0f} MiB"
        )
    return DecodePlan(size, scale, orientation, needed)


def decode_picture(
    data: bytes, max_pixels: int, bound: int | Bound | None, max_bytes: int
) -> Picture:
    """Bytes of one image -> its pixels at the working size (within `bound`: a max_side, or the
    displayed image's (height, width) bound; see service/regions/picture.py), RGB, as displayed."""
    with open_image(data) as image:
        width, height = image.size
        plan = plan_decode(image, max_pixels, bound, max_bytes)
        scale, orientation = plan.scale, plan.orientation
        fast = fast_pixels(data, image, plan.size, orientation)
        if fast is not None:
            return _picture(fast, width, height, scale, orientation)
        try:
            image.seek(0)  # animated images: the first frame
            image.load()
            orientation = _orientation(image)
            size, scale = _stored_size(width, height, bound, orientation)
            small = _reduce(image, size)
            turn = TRANSPOSE.get(orientation)
            pixels = to_rgb(small if turn is None else small.transpose(turn))
        except UNREADABLE as error:
            raise BadRequest(f"image could not be decoded: {error}") from error
    return _picture(pixels, width, height, scale, orientation)


def _picture(
    pixels: np.ndarray, width: int, height: int, scale: float, orientation: int
) -> Picture:
    if orientation >= 5:  # a quarter turn: displayed sides swap
        width, height = height, width
    return Picture(pixels, width, height, scale)


def _stored_size(
    width: int, height: int, bound: int | Bound | None, orientation: int
) -> tuple[tuple[int, int], float]:
    """The working size in the image's stored orientation: the bound holds as displayed."""
    limit = as_bound(bound)
    if orientation >= 5 and limit is not None:  # a quarter turn: the bound's sides swap
        limit = (limit[1], limit[0])
    return working_size(width, height, limit)


def decoding_bytes(image: Image.Image, full: tuple[int, int], size: tuple[int, int]) -> int:
    """Peak bytes decoding `image` takes: Pillow's image as it decodes (after any draft),
    the copies conversion and reduction make, a progressive JPEG's coefficients, WebP's own
    frame buffer and Wuffs' buffers for a PNG (all at full size), and the working-size images."""
    progressive = "progressive" in image.info
    return decoding_bytes_of(image.size, image.mode, image.format, progressive, full, size)


def decoding_bytes_of(
    decoded: tuple[int, int],
    mode: str,
    image_format: str | None,
    progressive: bool,
    full: tuple[int, int],
    size: tuple[int, int],
) -> int:
    """`decoding_bytes` from the header's values: the decoded size (after any draft), mode,
    format and whether a JPEG is progressive."""
    pixels = decoded[0] * decoded[1]
    reducing = decoded != size
    total = pixels * _bytes_per_pixel(mode)
    if mode in WIDE_GREYS:
        total += pixels + STRIP_ROWS * decoded[0] * 16  # 8-bit copy; float64 strips
    elif reducing and mode in ("P", "PA", "1"):
        total += pixels * 4  # converted to RGB(A) or L before resampling
    if reducing and (mode in ALPHA_MODES or mode == "P"):
        total += pixels * 4  # Pillow resamples alpha premultiplied, in a copy
    if image_format in ("JPEG", "MPO") and progressive:
        total += full[0] * full[1] * 3
    if image_format == "WEBP":
        total += pixels * 4
    if image_format == "PNG" and mode in ("RGB", "L"):
        # Wuffs (fast_decode.py): its filtered rows, its pixels and the copy read out, a byte
        # per channel each, where Pillow's storage was counted above.
        channels = 3 if mode == "RGB" else 1
        total += pixels * (3 * channels - _bytes_per_pixel(mode))
    return total + size[0] * size[1] * 10  # reduced image, RGB conversion, numpy array


def _bytes_per_pixel(mode: str) -> int:
    """Pillow's storage: one byte for 1, L and P, two for 16-bit greys, four for the rest."""
    if mode in ("1", "L", "P"):
        return 1
    return 2 if mode.startswith("I;16") else 4


def open_image(data: bytes) -> Image.Image:
    """The image of `data`, header read, pixels not yet (BadRequest, PayloadTooLarge or
    UnsupportedMediaType when it cannot be)."""
    if not data:
        raise BadRequest("image is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data), formats=FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise PayloadTooLarge(f"image has too many pixels: {error}") from error
    except UnidentifiedImageError as error:
        raise _unreadable_or_unsupported(data) from error
    except UNREADABLE as error:  # a header cut short
        raise BadRequest(f"image could not be decoded: {error}") from error


def _orientation(image: Image.Image) -> int:
    """EXIF orientation 1 to 8; a malformed EXIF block counts as none, as browsers take it."""
    try:
        value = image.getexif().get(ORIENTATION, 1)
    except (*UNREADABLE, KeyError, IndexError, TypeError, UnicodeDecodeError):
        return 1
    return value if isinstance(value, int) and value in TRANSPOSE else 1


def _reduce(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """The image at `size` (in its stored orientation), in a mode Pillow resamples."""
    if image.mode in WIDE_GREYS:
        image = wide_grey_to_l(image)
    if image.size == size:
        return image
    if image.mode == "1":
        image = image.convert("L")
    elif image.mode in ("P", "PA"):
        image = image.convert("RGBA" if _has_alpha(image) else "RGB")
    return shrink(image, size)


def wide_grey_to_l(image: Image.Image) -> Image.Image:
    """16- or 32-bit grey -> 8-bit L, a strip at a time: 16-bit data spans 0..65535 (divided
    by 257); data stored wider but within 0..255 stays as it is."""
    width, height = image.size
    strips = [
        (0, top, width, min(top + STRIP_ROWS, height)) for top in range(0, height, STRIP_ROWS)
    ]
    wide = max((np.asarray(image.crop(box)).max(initial=0) for box in strips), default=0) > 255
    out = np.empty((height, width), np.uint8)
    for box in strips:
        values = np.asarray(image.crop(box), np.float64)
        out[box[1] : box[3]] = np.clip(np.rint(values / 257.0 if wide else values), 0, 255)
    return Image.fromarray(out, "L")


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ALPHA_MODES or "transparency" in image.info


def _unreadable_or_unsupported(data: bytes) -> BadRequest | UnsupportedMediaType:
    try:
        with Image.open(io.BytesIO(data)) as image:
            found = image.format
    except Exception:  # any failure here means "not an image we know"
        return BadRequest("image is not a readable JPEG, PNG, WebP, BMP, TIFF or GIF file")
    return UnsupportedMediaType(f"image format {found} is not supported; use one of {FORMATS}")


def to_rgb(image: Image.Image) -> np.ndarray:
    """Any Pillow mode -> (H, W, 3) uint8 RGB; transparency is composited on white."""
    if image.mode in WIDE_GREYS:
        image = wide_grey_to_l(image)
    if _has_alpha(image):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (*WHITE, 255))
        return np.asarray(Image.alpha_composite(background, rgba).convert("RGB"))
    return np.asarray(image if image.mode == "RGB" else image.convert("RGB"))


ImageFile.LOAD_TRUNCATED_IMAGES = False  # a truncated upload is an error, never half an image
