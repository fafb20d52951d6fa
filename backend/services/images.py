"""Pure image work with Pillow: cheap inspection of uploads and rendering of the derived copies."""

import io
import struct
import warnings
from dataclasses import dataclass
from datetime import datetime

from PIL import Image, ImageOps, UnidentifiedImageError

from backend.models.types import LOCAL_TZ

try:  # HEIC from iPhones; optional so the service runs where libheif is missing
    from pillow_heif import register_heif_opener

    register_heif_opener()
    HEIF_SUPPORTED = True
except ImportError:  # pragma: no cover
    HEIF_SUPPORTED = False

ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", *(("HEIF",) if HEIF_SUPPORTED else ()))
# The JPEG opener answers MPO for the multi-picture JPEGs some phone cameras write; frame one is a JPEG.
JPEG_FORMATS = ("JPEG", "MPO")
EXIF_ORIENTATION = 0x0112
EXIF_IFD = 0x8769
EXIF_DATETIME_ORIGINAL = 0x9003
ROTATED_ORIENTATIONS = {5, 6, 7, 8}


class BadImage(Exception):
    """The bytes are not an image we accept; the message says why (for logs, not for citizens)."""


@dataclass(frozen=True)
class ImageInfo:
    format: str
    width: int  # as displayed, EXIF orientation applied
    height: int
    taken_at: datetime | None


def _taken_at(exif: Image.Exif) -> datetime | None:
    raw = exif.get_ifd(EXIF_IFD).get(EXIF_DATETIME_ORIGINAL)
    if not isinstance(raw, str):
        return None
    try:
        return datetime.strptime(raw.strip("\x00 "), "%Y:%m:%d %H:%M:%S").replace(tzinfo=LOCAL_TZ)
    except ValueError:
        return None


def inspect(data: bytes, max_pixels: int) -> ImageInfo:
    """Check an upload without a full decode: format, pixel count, structure, truncation.

    JPEG is decoded in draft mode at 1/8 scale, which reads every byte of the stream (so
    truncation shows) for a fraction of the cost of a full decode; PNG chunks are checksummed.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
            width, height = image.size
            if width < 1 or height < 1 or width * height > max_pixels:
                raise BadImage(f"{width}x{height} exceeds {max_pixels} pixels")
            fmt = "JPEG" if image.format in JPEG_FORMATS else image.format
            if fmt == "PNG":
                # verify() checks every chunk's CRC without decoding, but must come first and
                # leaves the image unusable; PNG EXIF, when present, sits in a chunk before IDAT.
                image.verify()
                image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
                exif = Image.Exif()
                if "exif" in image.info:
                    exif.load(image.info["exif"])
            else:
                exif = image.getexif()
            orientation = exif.get(EXIF_ORIENTATION, 1)
            taken_at = _taken_at(exif)
            if fmt == "JPEG":
                image.draft("RGB", (max(1, width // 8), max(1, height // 8)))
                image.load()
            elif fmt == "WEBP":
                image.load()
            # HEIF is not decoded here (half a second for 12 MP): the worker decodes it and
            # marks the photo failed if it cannot.
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise BadImage(str(exc)) from exc
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error) as exc:
        raise BadImage(f"corrupt image: {exc}") from exc
    if orientation in ROTATED_ORIENTATIONS:
        width, height = height, width
    return ImageInfo(format=fmt, width=width, height=height, taken_at=taken_at)


def _draft_scale(longest: int, target: int) -> int:
    """The largest JPEG DCT reduction that still leaves at least 3/4 of the target size."""
    for scale in (8, 4, 2):
        if longest / scale >= target * 0.75:
            return scale
    return 1


@dataclass(frozen=True)
class Rendered:
    display: bytes
    thumb: bytes
    width: int
    height: int
    phash: str  # 64-bit difference hash, hex


def difference_hash(image: Image.Image) -> str:
    """dHash: 9×8 greyscale, one bit per neighbour comparison. Re-encoded or resized copies of a photo
    differ in a few bits; different photos in about half of them."""
    small = image.convert("L").resize((9, 8), Image.Resampling.LANCZOS)
    pixels = small.tobytes()  # one byte per pixel in mode L
    bits = 0
    for row in range(8):
        for col in range(8):
            bits = (bits << 1) | (pixels[row * 9 + col] > pixels[row * 9 + col + 1])
    return f"{bits:016x}"


def hamming(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def _encode(image: Image.Image, quality: int, icc_profile: bytes | None) -> bytes:
    out = io.BytesIO()
    # No exif= and no xmp=: Pillow writes neither, so GPS and camera data never leave the original.
    image.save(out, "JPEG", quality=quality, icc_profile=icc_profile)
    return out.getvalue()


def render(data: bytes, display_max: int, thumb_max: int) -> Rendered:
    """Upright, EXIF-free JPEG display copy (≤ display_max px) and thumbnail (≤ thumb_max px)."""
    image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    icc_profile = image.info.get("icc_profile")
    if image.format in JPEG_FORMATS:
        scale = _draft_scale(max(image.size), display_max)
        if scale > 1:
            image.draft("RGB", (max(1, image.width // scale), max(1, image.height // scale)))
    # Shrink first, rotate after: cheaper for formats without draft mode (PNG, HEIC, WebP).
    image.thumbnail((display_max, display_max), Image.Resampling.LANCZOS, reducing_gap=2.0)
    image = ImageOps.exif_transpose(image)
    if image.mode in ("RGBA", "LA", "P"):
        rgba = image.convert("RGBA")
        image = Image.new("RGB", rgba.size, (255, 255, 255))
        image.paste(rgba, mask=rgba.getchannel("A"))
    elif image.mode != "RGB":
        image = image.convert("RGB")
    display = _encode(image, 85, icc_profile)
    thumb_image = image.copy()
    thumb_image.thumbnail((thumb_max, thumb_max), Image.Resampling.LANCZOS, reducing_gap=1.0)
    thumb = _encode(thumb_image, 80, icc_profile)
    return Rendered(
        display=display, thumb=thumb, width=image.width, height=image.height, phash=difference_hash(thumb_image)
    )
