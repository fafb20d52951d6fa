"""Pure image work with Pillow: cheap inspection of uploads and rendering of the derived copies."""

import io
import struct
from dataclasses import dataclass
from datetime import datetime

from PIL import Image, UnidentifiedImageError

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


def _jpeg_structure(data: bytes, image: Image.Image) -> None:
    # Pillow's open read SOI and every marker up to the first SOS, and refused a file without SOF. Inside
    # entropy-coded data a 0xFF byte is always followed by 0x00 or a restart marker, so an EOI (FFD9) after
    # the scan start is the real end of the picture: a file cut short in its scan data has none.
    scan_start = image.tile[0][2] if image.tile else len(data)
    if data.rfind(b"\xff\xd9", scan_start) < 0:
        raise BadImage("JPEG without end of image marker (truncated)")


def _png_structure(data: bytes, image: Image.Image) -> None:
    # Pillow's open checked the signature and read the chunks up to the first IDAT (IHDR is its first).
    if data[12:16] != b"IHDR":
        raise BadImage("PNG whose first chunk is not IHDR")
    if data.rfind(b"\x00\x00\x00\x00IEND", image.tile[0][2] if image.tile else len(data)) < 0:
        raise BadImage("PNG without IEND after its image data (truncated)")


def _webp_structure(data: bytes, image: Image.Image) -> None:
    # RIFF length field: the bytes after the first 8. Fewer means the file was cut short.
    (riff_size,) = struct.unpack_from("<I", data, 4)
    if riff_size < 4 or riff_size + 8 > len(data):
        raise BadImage(f"WebP RIFF declares {riff_size + 8} bytes, file has {len(data)} (truncated)")


def _heif_structure(data: bytes, image: Image.Image) -> None:
    # ISO BMFF: the top-level boxes (ftyp, meta, mdat…) must tile the file; a cut file ends inside one.
    offset = 0
    while offset < len(data):
        if len(data) - offset < 8:
            raise BadImage("HEIF ends inside a box header (truncated)")
        size, kind = struct.unpack_from(">I4s", data, offset)
        if size == 1 and len(data) - offset >= 16:
            (size,) = struct.unpack_from(">Q", data, offset + 8)
        elif size == 0:  # "to the end of the file"
            size = len(data) - offset
        if offset == 0 and kind != b"ftyp":
            raise BadImage("HEIF without ftyp box")
        if size < 8 or offset + size > len(data):
            raise BadImage(f"HEIF box {kind!r} declares {size} bytes past the end of the file (truncated)")
        offset += size


_STRUCTURE_CHECKS = {"JPEG": _jpeg_structure, "PNG": _png_structure, "WEBP": _webp_structure, "HEIF": _heif_structure}


def _check_size(width: int, height: int, max_pixels: int, max_side: int) -> None:
    """Our caps, checked before any pixel is decoded. They do not rely on Image.MAX_IMAGE_PIXELS (a
    process-wide setting that other code may change or set to None)."""
    if not (1 <= width <= max_side and 1 <= height <= max_side):
        raise BadImage(f"{width}x{height}: each side must be 1..{max_side} pixels")
    if width * height > max_pixels:
        raise BadImage(f"{width}x{height} exceeds {max_pixels} pixels")


def _open(data: bytes) -> Image.Image:
    """Parse the header only (Pillow decodes nothing before load()); refuse formats we do not accept.

    Pillow refuses more than 2 × Image.MAX_IMAGE_PIXELS itself (DecompressionBombError) and warns above
    Image.MAX_IMAGE_PIXELS; our own caps, checked next, are what decide.
    """
    try:
        return Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except (UnidentifiedImageError, Image.DecompressionBombError) as exc:
        raise BadImage(str(exc)) from exc
    except _PARSE_ERRORS as exc:
        raise BadImage(f"corrupt image: {exc}") from exc


# What Pillow and its plugins raise on hostile bytes (found by fuzzing the headers of every format);
# RuntimeError: pillow-heif reports libheif errors (e.g. its own size limits) with it.
_PARSE_ERRORS = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    IndexError,
    KeyError,
    TypeError,
    RuntimeError,
    struct.error,
)


def inspect(data: bytes, max_pixels: int, max_side: int) -> ImageInfo:
    """Check an upload without decoding a single pixel: about a millisecond, whatever the format and size.

    Reads the header (format, declared size, EXIF orientation and time), refuses sizes over the caps, and
    checks cheap structure: JPEG SOI, SOF and an EOI after the scan start; PNG signature, IHDR first and
    IEND after the image data; WebP's RIFF length against the file's; HEIF top-level boxes that tile the
    file. Damage inside the compressed data is found by the worker's decode (``render``), which then
    marks the photo failed.
    """
    image = _open(data)
    try:
        width, height = image.size
        _check_size(width, height, max_pixels, max_side)
        fmt = "JPEG" if image.format in JPEG_FORMATS else image.format
        _STRUCTURE_CHECKS[fmt](data, image)
        # The base class's getexif reads what the header parse put in image.info (EXIF, or XMP's
        # orientation); PngImageFile.getexif would decode the whole image looking for a late eXIf chunk.
        exif = Image.Image.getexif(image)
        orientation = _orientation(exif)
        taken_at = _taken_at(exif)
    except _PARSE_ERRORS as exc:
        raise BadImage(f"corrupt image: {exc}") from exc
    if orientation in ROTATED_ORIENTATIONS:
        width, height = height, width
    return ImageInfo(format=fmt, width=width, height=height, taken_at=taken_at)


def _orientation(exif: Image.Exif) -> int:
    value = exif.get(EXIF_ORIENTATION)
    return value if isinstance(value, int) and value in _TRANSPOSE else 1


_TRANSPOSE = {  # EXIF orientation -> the transpose that makes the picture upright (as ImageOps.exif_transpose)
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def upright(image: Image.Image) -> Image.Image:
    """EXIF orientation applied. Unlike ImageOps.exif_transpose it does not re-serialise the EXIF (which
    the copies drop anyway, and which fails on some malformed tags)."""
    method = _TRANSPOSE[_orientation(image.getexif())]
    return image if method is None else image.transpose(method)


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


def render(data: bytes, display_max: int, thumb_max: int, max_pixels: int, max_side: int) -> Rendered:
    """Upright, EXIF-free JPEG display copy (≤ display_max px) and thumbnail (≤ thumb_max px).

    The only full decode of an upload, run by the worker. The caps are checked again before any pixel is
    decoded (the original may predate a lower cap), whatever Image.MAX_IMAGE_PIXELS says.

    Memory bound: decoded pixels × bytes per pixel. JPEG is decoded at 1/2 … 1/8 scale (draft, keeping
    ≥ 3/4 of display_max): its decoded sides stay under 1.5 × display_max for any file within the side cap;
    PNG, WebP and HEIF have no reduced decode, so all their declared pixels are. Pillow keeps RGB(A) at
    4 bytes a pixel and thumbnail() adds a reduced copy; the decoders add their own buffers. Measured peaks
    (bench/README.md): JPEG ~9 bytes per decoded pixel, PNG ~7 and HEIF ~7.5 per pixel, WebP ~16 per pixel
    (Pillow's WebP plugin holds libwebp's two canvases and a copy besides its image). At the default 80 MP
    cap: JPEG under 100 MB, PNG/HEIF about 600 MB, WebP about 1.3 GB; MAX_PHOTO_PIXELS is the knob.
    """
    image = _open(data)
    try:
        _check_size(*image.size, max_pixels, max_side)
        icc_profile = image.info.get("icc_profile")
        if image.format in JPEG_FORMATS:
            scale = _draft_scale(max(image.size), display_max)
            if scale > 1:
                image.draft("RGB", (max(1, image.width // scale), max(1, image.height // scale)))
        # Shrink first, rotate after: cheaper for formats without draft mode (PNG, HEIC, WebP).
        # thumbnail() decodes (load) and then reduces by an integer factor before resampling.
        image.thumbnail((display_max, display_max), Image.Resampling.LANCZOS, reducing_gap=2.0)
        image.load()  # thumbnail() skips a picture already small enough: decode here, inside the try
        image = upright(image)
        if image.mode in ("RGBA", "LA", "P"):
            rgba = image.convert("RGBA")
            image = Image.new("RGB", rgba.size, (255, 255, 255))
            image.paste(rgba, mask=rgba.getchannel("A"))
        elif image.mode != "RGB":
            image = image.convert("RGB")
    except _PARSE_ERRORS as exc:  # truncated or corrupt compressed data shows only now
        raise BadImage(f"corrupt image: {exc}") from exc
    display = _encode(image, 85, icc_profile)
    thumb_image = image.copy()
    thumb_image.thumbnail((thumb_max, thumb_max), Image.Resampling.LANCZOS, reducing_gap=1.0)
    thumb = _encode(thumb_image, 80, icc_profile)
    return Rendered(
        display=display, thumb=thumb, width=image.width, height=image.height, phash=difference_hash(thumb_image)
    )
