"""Faster decoders for the commonest files, straight into the (H, W, 3) RGB array: JPEG by
simplejpeg, PNG by Wuffs (pywuffs; the fastest of Pillow, OpenCV, simplejpeg and Wuffs that
give Pillow's pixels: bench/RESULTS.md, front end).

Only files that Pillow would decode to the same pixels take this path: 8-bit RGB or grey
JPEG and PNG, decoded at full size (a JPEG that Pillow would draft stays with Pillow), with no
transparency, one frame, and complete (a JPEG ends with its EOI marker, a PNG with IEND: a
truncated upload stays an error, from Pillow). JPEG decodes with libjpeg-turbo (islow DCT,
fancy upsampling: simplejpeg's fastdct and fastupsample stay off); PNG with Wuffs, memory-safe
by construction, held to the longest side of the header Pillow read, and blind to colour
metadata as Pillow is (gAMA, cHRM, iCCP and sRGB change no pixel). Anything else, or any
failure here, returns None and Pillow decodes the file as before, with its own error messages.
"""

from collections.abc import Callable

import numpy as np
import simplejpeg
from PIL import Image
from pywuffs import ImageDecoderQuirks, ImageDecoderType, PixelFormat
from pywuffs.aux import ImageDecoder, ImageDecoderConfig

from service.regions.picture import shrink
from service.regions.png_header import SIGNATURE, png_chunks

JPEG_END = b"\xff\xd9"
PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"
# libjpeg-turbo writes RGB or grey itself; simplejpeg never reads the EXIF orientation (it
# is applied below, as Pillow's).
JPEG_COLOURS = {"RGB": "RGB", "L": "GRAY"}
# Wuffs writes RGB or grey itself and never turns (no EXIF read).
PNG_PIXELS = {"RGB": PixelFormat.RGB, "L": PixelFormat.Y}
# Wuffs' own default skips the chunk CRCs and zlib's Adler-32; both are checked here, so a
# file with either wrong goes to Pillow: a bad Adler-32 is its error, a bad IDAT CRC it ignores.
PNG_CHECKSUMS = {ImageDecoderQuirks.IGNORE_CHECKSUM: 0}
PNG_TEXT = (b"tEXt", b"zTXt", b"iTXt")
# An orientation Pillow reads after the pixels; animation; a transparent colour after the
# pixels (Pillow reads it when it ends decoding and whitens that colour; Wuffs ignores it).
PNG_PILLOW = (b"eXIf", b"acTL", b"tRNS")
# EXIF orientation -> the array view Pillow's transpose gives (rows are y, columns x).
TURNS: dict[int, Callable[[np.ndarray], np.ndarray]] = {
    2: lambda a: a[:, ::-1],  # FLIP_LEFT_RIGHT
    3: lambda a: a[::-1, ::-1],  # ROTATE_180
    4: lambda a: a[::-1],  # FLIP_TOP_BOTTOM
    5: lambda a: a.swapaxes(0, 1),  # TRANSPOSE
    6: lambda a: np.rot90(a, -1),  # ROTATE_270 (a quarter turn clockwise)
    7: lambda a: a[::-1, ::-1].swapaxes(0, 1),  # TRANSVERSE
    8: lambda a: np.rot90(a, 1),  # ROTATE_90
}


def fast_pixels(
    data: bytes, image: Image.Image, size: tuple[int, int], orientation: int
) -> np.ndarray | None:
    """(h, w, 3) uint8 RGB at `size` (stored orientation) turned by `orientation`, or None
    when Pillow must decode `data` (its header already read as `image`)."""
    rawmode = _rawmode(data, image, size)
    if rawmode is None:
        return None
    width, height = image.size
    if image.format == "PNG":
        decoded = decode_png(data, rawmode, max(width, height))
    else:
        decoded = _decode_jpeg(data, rawmode)
    if decoded is None or decoded.shape != (
        (height, width, 3) if rawmode == "RGB" else (height, width)
    ):
        return None
    if image.size != size:  # reduced as Pillow reduces: in its own mode, then turned
        decoded = np.asarray(shrink(Image.fromarray(decoded, rawmode), size))
    turn = TURNS.get(orientation)
    if turn is not None:
        decoded = turn(decoded)
    if rawmode == "L":
        return np.repeat(decoded[:, :, None], 3, axis=2)
    return np.ascontiguousarray(decoded)


def decode_png(data: bytes, rawmode: str, side: int) -> np.ndarray | None:
    """A PNG's pixels by Wuffs, as stored: (h, w, 3) for `rawmode` RGB, (h, w) for L; None
    where Wuffs refuses the file, finds it broken, or a side is over `side`."""
    config = ImageDecoderConfig()
    config.enabled_decoders = [ImageDecoderType.PNG]
    config.pixel_format = PNG_PIXELS[rawmode]
    config.quirks = PNG_CHECKSUMS
    config.max_incl_dimension = side
    decoded = ImageDecoder(config).decode(data)  # one per call: a decoder is not thread-safe
    if decoded.error_message:  # partly decoded pixels come with a message too
        return None
    pixels: np.ndarray = decoded.pixbuf  # a copy each time it is read
    return pixels if rawmode == "RGB" else pixels[:, :, 0]


def _decode_jpeg(data: bytes, rawmode: str) -> np.ndarray | None:
    """The stored pixels, (h, w, 3) RGB or (h, w) grey, or None."""
    try:
        decoded = simplejpeg.decode_jpeg(
            data, colorspace=JPEG_COLOURS[rawmode], fastdct=False, fastupsample=False
        )
    except ValueError:  # anything libjpeg-turbo warns about: Pillow decides
        return None
    return decoded if rawmode == "RGB" else decoded[:, :, 0]


def _rawmode(data: bytes, image: Image.Image, size: tuple[int, int]) -> str | None:
    """The mode this file decodes to Pillow's pixels in here (RGB or L), else None."""
    tile = getattr(image, "tile", [])  # how Pillow would decode it
    if len(tile) != 1 or "transparency" in image.info:
        return None
    args = tile[0].args
    if image.format == "JPEG" and image.size == size and data.endswith(JPEG_END):
        rawmode = args[0] if isinstance(args, tuple) else None
    elif image.format == "PNG" and data.endswith(PNG_END) and _plain_png(data):
        rawmode = args if isinstance(args, str) else None
    else:
        return None
    return rawmode if rawmode in ("RGB", "L") and rawmode == image.mode else None


def _plain_png(data: bytes) -> bool:
    """No animation (an APNG's default image may be no frame) and no orientation that Pillow
    reads only after decoding (an eXIf chunk, or EXIF or XMP text after the pixels): walked
    chunk by chunk, a few dozen steps where searching the bytes took a millisecond; and the
    chunks end exactly where the file does."""
    end = len(SIGNATURE)
    for kind, start, length in png_chunks(data):
        if kind in PNG_PILLOW:
            return False
        if kind in PNG_TEXT:
            keyword = data[start : start + min(length, 80)].split(b"\0", 1)[0].lower()
            if b"exif" in keyword or b"xmp" in keyword:
                return False
        end = start + length + 4  # past its CRC
    return end == len(data)
