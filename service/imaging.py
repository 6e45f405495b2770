"""Image decoding with Pillow: limits checked from the header, EXIF orientation, RGB out."""

import io
import warnings

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from service.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType

FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "TIFF", "GIF")
WHITE = (255, 255, 255)


def decode_image(data: bytes, max_pixels: int) -> np.ndarray:
    """Bytes of one image -> (H, W, 3) uint8 RGB as displayed (EXIF orientation applied)."""
    if not data:
        raise BadRequest("image is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise PayloadTooLarge(f"image has too many pixels: {error}") from error
    except UnidentifiedImageError as error:
        raise _unreadable_or_unsupported(data) from error
    except (OSError, SyntaxError, ValueError, EOFError) as error:  # a header cut short
        raise BadRequest(f"image could not be decoded: {error}") from error
    with image:
        width, height = image.size
        if width * height > max_pixels:
            raise PayloadTooLarge(
                f"image is {width}x{height} = {width * height} pixels; the limit is {max_pixels}"
            )
        try:
            image.seek(0)  # animated images: the first frame
            image.load()
            return to_rgb(ImageOps.exif_transpose(image))
        except (OSError, SyntaxError, ValueError) as error:
            raise BadRequest(f"image could not be decoded: {error}") from error


def _unreadable_or_unsupported(data: bytes) -> BadRequest | UnsupportedMediaType:
    try:
        with Image.open(io.BytesIO(data)) as image:
            found = image.format
    except Exception:  # any failure here means "not an image we know"
        return BadRequest("image is not a readable JPEG, PNG, WebP, BMP, TIFF or GIF file")
    return UnsupportedMediaType(f"image format {found} is not supported; use one of {FORMATS}")


def to_rgb(image: Image.Image) -> np.ndarray:
    """Any Pillow mode -> (H, W, 3) uint8 RGB; transparency is composited on white."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        values = np.asarray(image, np.float64)
        # 16-bit data spans 0..65535; 8-bit data stored wider stays as it is.
        scaled = values / 257.0 if values.max(initial=0) > 255 else values
        grey = np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=2)
    has_alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info
    if has_alpha:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (*WHITE, 255))
        return np.asarray(Image.alpha_composite(background, rgba).convert("RGB"))
    return np.asarray(image.convert("RGB"))


ImageFile.LOAD_TRUNCATED_IMAGES = False  # a truncated upload is an error, never half an image
