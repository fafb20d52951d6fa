"""images.inspect and images.render on hostile bytes: BadImage or a result, never another exception."""

import io
import random

import pytest
from PIL import Image

from backend.services.media import images
from tests.helpers import jpeg_bytes, png_bytes

CAPS = {"max_pixels": 80_000_000, "max_side": 20_000}


def _encoded(fmt: str, **options) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (9, 99, 199)).save(out, fmt, **options)
    return out.getvalue()


def _mutants(seed_bytes: bytes, count: int, rnd: random.Random):
    """Bytes changed, cut or inserted, mostly in the first 200 bytes where the headers are."""
    for _ in range(count):
        data = bytearray(seed_bytes)
        for _ in range(rnd.randint(1, 6)):
            if not data:
                break
            pos = rnd.randrange(min(len(data), 200 if rnd.random() < 0.8 else len(data)))
            roll = rnd.random()
            if roll < 0.6:
                data[pos] = rnd.randrange(256)
            elif roll < 0.8:
                del data[pos : pos + rnd.randint(1, 20)]
            else:
                data[pos:pos] = rnd.randbytes(rnd.randint(1, 8))
        yield bytes(data)


@pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow's "Corrupt EXIF data" and the like: expected here
@pytest.mark.parametrize(
    ("seed", "count"),
    [
        ("jpeg", 1500),
        ("png", 300),
        ("webp", 300),
        ("webp-lossless", 300),
        ("heic", 300),
    ],
)
def test_mutated_headers_give_bad_image_or_a_picture(seed, count):
    originals = {
        "jpeg": lambda: jpeg_bytes(64, 48, orientation=6, gps=True),
        "png": lambda: png_bytes(64, 48),
        "webp": lambda: _encoded("WEBP"),
        "webp-lossless": lambda: _encoded("WEBP", lossless=True),
        "heic": lambda: _encoded("HEIF", quality=50),
    }
    rnd = random.Random(12)  # seed 12 found a TypeError in Pillow's EXIF writer (ImageOps.exif_transpose)
    outcomes = {"refused at upload": 0, "failed in worker": 0, "rendered": 0}
    for data in _mutants(originals[seed](), count, rnd):
        try:
            images.inspect(data, **CAPS)
        except images.BadImage:
            outcomes["refused at upload"] += 1
            continue
        try:
            images.render(data, 2048, 360, **CAPS)
        except images.BadImage:
            outcomes["failed in worker"] += 1
        else:
            outcomes["rendered"] += 1
    assert all(outcomes.values()), outcomes  # the corpus reaches every outcome


def test_the_worker_applies_the_caps_before_decoding():
    data = jpeg_bytes(400, 300)
    with pytest.raises(images.BadImage, match="exceeds"):
        images.render(data, 2048, 360, max_pixels=100_000, max_side=20_000)
    with pytest.raises(images.BadImage, match="each side"):
        images.render(data, 2048, 360, max_pixels=80_000_000, max_side=399)
