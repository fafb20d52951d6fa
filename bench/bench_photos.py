"""Benchmark of the photo pipeline: ``images.inspect`` (upload path) and ``images.render`` (worker).

Run from the project root::

    .venv/bin/python -m bench.bench_photos              # 20 timed runs per case
    .venv/bin/python -m bench.bench_photos --runs 50
    .venv/bin/python -m bench.bench_photos --profile    # also cProfile render() of the 12 MP JPEG
    .venv/bin/python -m bench.bench_photos --upload     # also time whole POST /api/v1/photos requests

Test photos are generated in memory (nothing is written to disk): noise, gradients and line art so
that they compress like real photos. Every source carries GPS (EXIF GPS IFD, plus XMP for the
JPEGs) so the outputs can be checked for leaks. Exit status is 1 if any output check fails.
"""

import argparse
import contextlib
import cProfile
import gc
import io
import logging
import math
import multiprocessing
import os
import platform
import pstats
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import PIL
from PIL import Image, ImageChops, ImageCms, ImageDraw, ImageOps

from backend.services.media import images
from config import Config

DISPLAY_MAX = Config.PHOTO_DISPLAY_MAX_PX  # 2048
THUMB_MAX = Config.PHOTO_THUMB_MAX_PX  # 360
MAX_PIXELS = Config.MAX_PHOTO_PIXELS  # 80 MP unless MAX_PHOTO_PIXELS is set
MAX_SIDE = Config.MAX_PHOTO_SIDE  # 20000 px unless MAX_PHOTO_SIDE is set
TARGET_MS = 100.0  # the requirement: a 4 MB 12 MP photo well under 100 ms of worker time

ORIENTATION = 0x0112
EXIF_IFD = 0x8769
GPS_IFD = 0x8825
MARKER = (255, 0, 0)  # a red square painted at the *stored* top-left corner, to check uprightness
XMP_NS = b"http://ns.adobe.com/xap/1.0/"
XMP_WITH_GPS = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="31,14.0250N"'
    b' exif:GPSLongitude="121,28.4470E"/></rdf:RDF></x:xmpmeta>'
)


def upload_check(data: bytes) -> images.ImageInfo:
    """What POST /api/v1/photos runs on the bytes (the upload path)."""
    return images.inspect(data, MAX_PIXELS, MAX_SIDE)


def worker_render(data: bytes) -> images.Rendered:
    """What the photo job runs (the only full decode)."""
    return images.render(data, DISPLAY_MAX, THUMB_MAX, MAX_PIXELS, MAX_SIDE)


# --------------------------------------------------------------------------- test photos


def _exif(orientation: int) -> Image.Exif:
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    exif[0x010F] = "BenchCam"  # Make
    exif[0x0110] = "BenchCam 12"  # Model
    exif.get_ifd(EXIF_IFD)[0x9003] = "2026:11:20 09:41:07"  # DateTimeOriginal
    gps = exif.get_ifd(GPS_IFD)
    gps[0] = b"\x02\x02\x00\x00"  # GPSVersionID
    gps[1] = "N"
    gps[2] = (31.0, 14.0, 1.5)
    gps[3] = "E"
    gps[4] = (121.0, 28.0, 26.82)
    return exif


def _srgb_icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def make_pixels(width: int, height: int, *, fine_noise: float | None, seed: int = 1) -> Image.Image:
    """A photo-like RGB image: gradients, blotchy texture, sensor-like noise, sharp line art.

    ``fine_noise`` is the sigma of per-pixel noise (None leaves out all high-frequency texture,
    for formats such as PNG where a noisy 12 MP image would be far bigger than any real upload).
    """
    rnd = random.Random(seed)
    gradient = Image.linear_gradient("L")
    channels = []
    for angle in (0, 90, 45):
        grad = gradient.rotate(angle, resample=Image.Resampling.BICUBIC).resize(
            (width, height), Image.Resampling.BILINEAR
        )
        blotches = Image.effect_noise((width // 16, height // 16), 40).resize((width, height), Image.Resampling.BICUBIC)
        channel = Image.blend(grad, blotches, 0.5)
        if fine_noise is not None:
            texture = Image.effect_noise((width // 3, height // 3), 20).resize(
                (width, height), Image.Resampling.BILINEAR
            )
            channel = ImageChops.add(channel, texture, offset=-128)
            if fine_noise > 0:
                channel = ImageChops.add(channel, Image.effect_noise((width, height), fine_noise), offset=-128)
        channels.append(channel)
    image = Image.merge("RGB", channels)
    draw = ImageDraw.Draw(image)
    scale = max(width, height) / 4000
    for _ in range(400):
        x, y = rnd.randrange(width), rnd.randrange(height)
        size = int(rnd.randrange(10, 300) * scale)
        colour = (rnd.randrange(256), rnd.randrange(256), rnd.randrange(256))
        if rnd.random() < 0.5:
            draw.rectangle((x, y, x + size, y + size // 2), outline=colour, width=rnd.randrange(1, 6))
        else:
            end = (x + rnd.randrange(-400, 400), y + rnd.randrange(-400, 400))
            draw.line((x, y, *end), fill=colour, width=rnd.randrange(1, 8))
    side = min(width, height) // 10
    image.paste(MARKER, (0, 0, side, side))
    return image


@dataclass
class Case:
    name: str
    data: bytes
    stored_size: tuple[int, int]  # pixels as stored in the file
    orientation: int  # EXIF orientation of the source (HEIC: applied by libheif on decode)
    expect_format: str
    expect_taken_at: bool = True
    note: str = ""

    @property
    def upright_size(self) -> tuple[int, int]:
        w, h = self.stored_size
        return (h, w) if self.orientation in images.ROTATED_ORIENTATIONS else (w, h)


def _jpeg(image: Image.Image, orientation: int, **extra) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=92, exif=_exif(orientation), xmp=XMP_WITH_GPS, icc_profile=_srgb_icc(), **extra)
    return out.getvalue()


def build_cases(include_heic: bool = True) -> tuple[list[Case], list[str]]:
    notes: list[str] = []
    cases: list[Case] = []

    pixels = make_pixels(4000, 3000, fine_noise=2.0)
    cases.append(Case("JPEG 12 MP", _jpeg(pixels, 6), (4000, 3000), 6, "JPEG", note="q92, 4:2:0"))

    # A JPEG with an MPF second image (as iPhone HDR gain-map JPEGs and many cameras write): Pillow opens
    # it as "MPO". Same primary image as above.
    out = io.BytesIO()
    pixels.save(
        out,
        "MPO",
        save_all=True,
        append_images=[pixels.resize((2000, 1500), Image.Resampling.BILINEAR)],
        quality=92,
        exif=_exif(6),
        xmp=XMP_WITH_GPS,
        icc_profile=_srgb_icc(),
    )
    cases.append(Case("JPEG+MPF 12 MP", out.getvalue(), (4000, 3000), 6, "JPEG", note="2nd image 2000x1500"))
    del pixels

    png_pixels = make_pixels(4000, 3000, fine_noise=None, seed=2)
    out = io.BytesIO()
    png_pixels.save(out, "PNG", exif=_exif(1))
    cases.append(
        Case("PNG 12 MP", out.getvalue(), (4000, 3000), 1, "PNG", expect_taken_at=False, note="smooth content")
    )
    del png_pixels

    if include_heic and images.HEIF_SUPPORTED:
        heic_pixels = make_pixels(4032, 3024, fine_noise=2.0, seed=3)
        out = io.BytesIO()
        try:
            # pillow_heif moves EXIF orientation into HEIF irot/imir boxes; libheif applies them on decode.
            heic_pixels.save(out, "HEIF", quality=50, exif=_exif(6).tobytes())
        except (OSError, ValueError, KeyError) as exc:
            notes.append(f"HEIC skipped: pillow_heif could not encode ({exc})")
        else:
            cases.append(
                Case(
                    "HEIC 12 MP",
                    out.getvalue(),
                    (4032, 3024),
                    6,
                    "HEIF",
                    expect_taken_at=False,
                    note="q50 x265, like a phone HEIC",
                )
            )
        del heic_pixels
    elif include_heic:
        notes.append("HEIC skipped: pillow_heif not installed")

    webp_pixels = make_pixels(4000, 3000, fine_noise=2.0, seed=5)
    out = io.BytesIO()
    webp_pixels.save(out, "WEBP", quality=80, exif=_exif(6), icc_profile=_srgb_icc())
    cases.append(Case("WebP 12 MP", out.getvalue(), (4000, 3000), 6, "WEBP", note="lossy q80"))
    del webp_pixels

    # The hostile-but-legal upload: 131 KB declaring 64 MP (8000x8000), every pixel the same colour.
    flat = Image.new("RGB", (8000, 8000), (10, 200, 10))
    flat.paste(MARKER, (0, 0, 800, 800))
    out = io.BytesIO()
    flat.save(out, "WEBP", quality=10)
    cases.append(
        Case("WebP 8000x8000 flat", out.getvalue(), (8000, 8000), 1, "WEBP", expect_taken_at=False, note="q10")
    )
    del flat

    big = make_pixels(8000, 6000, fine_noise=2.0, seed=4)
    cases.append(Case("JPEG 48 MP", _jpeg(big, 6), (8000, 6000), 6, "JPEG", note="q92, 4:2:0"))
    return cases, notes


# --------------------------------------------------------------------------- timing


@dataclass
class Timing:
    wall_ms: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)

    @staticmethod
    def _p95(values: list[float]) -> float:
        ordered = sorted(values)
        return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]  # nearest rank

    @property
    def median(self) -> float:
        return statistics.median(self.wall_ms)

    @property
    def p95(self) -> float:
        return self._p95(self.wall_ms)

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.cpu_ms)


def measure(fn: Callable[[], object], runs: int) -> Timing:
    fn()  # warm-up: imports, plugin registration, allocator
    timing = Timing()
    for _ in range(runs):
        gc.collect()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        fn()
        wall1, cpu1 = time.perf_counter(), time.process_time()
        timing.wall_ms.append((wall1 - wall0) * 1000)
        timing.cpu_ms.append((cpu1 - cpu0) * 1000)
    return timing


def _proc_status_kb(field_name: str) -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    raise KeyError(field_name)


def _child_peak(step: str, data: bytes) -> float | None:
    with contextlib.suppress(images.BadImage, OSError):  # imports and plugin registration first
        {"inspect": upload_check, "render": worker_render}[step](b"")
    try:
        gc.collect()
        with open("/proc/self/clear_refs", "w", encoding="ascii") as clear_refs:
            clear_refs.write("5")  # reset VmHWM (the peak) to the current RSS
        before = _proc_status_kb("VmRSS")
        {"inspect": upload_check, "render": worker_render}[step](data)
        peak = _proc_status_kb("VmHWM")
    except OSError:
        return None
    return max(0, peak - before) / 1024


def peak_rss_mb(step: str, data: bytes) -> float | None:
    """Peak resident memory one ``inspect`` or ``render`` call adds, in MB, measured in a fresh process.

    Linux VmHWM after resetting it: this counts what tracemalloc cannot see (Pillow's, libjpeg's,
    libwebp's and libheif's C buffers). A fresh process, because one that has already decoded large images
    keeps freed heap resident and reuses it without its RSS growing. None without /proc/self/clear_refs.
    """
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(_child_peak, (step, data))


def naive_render(data: bytes, display_max: int, thumb_max: int) -> tuple[bytes, bytes]:
    """What render() would cost without JPEG draft mode: full decode, then render()'s other steps."""
    image = Image.open(io.BytesIO(data))
    icc_profile = image.info.get("icc_profile")
    image.load()  # full-size decode; draft() has no effect after this
    image.thumbnail((display_max, display_max), Image.Resampling.LANCZOS, reducing_gap=2.0)
    image = ImageOps.exif_transpose(image)
    if image.mode != "RGB":
        image = image.convert("RGB")
    display = io.BytesIO()
    image.save(display, "JPEG", quality=85, icc_profile=icc_profile)
    thumb_image = image.copy()
    thumb_image.thumbnail((thumb_max, thumb_max), Image.Resampling.LANCZOS, reducing_gap=1.0)
    thumb = io.BytesIO()
    thumb_image.save(thumb, "JPEG", quality=80, icc_profile=icc_profile)
    return display.getvalue(), thumb.getvalue()


@dataclass
class Stages:
    scale: int  # JPEG draft reduction, 1 for other formats
    median_ms: dict[str, float]  # step name -> median ms
    display: bytes  # outputs of the last run, to compare with images.render()
    thumb: bytes


def render_stages(data: bytes, runs: int) -> Stages:
    """Draft scale used and median ms per step of render(): a replica of images.render's steps.

    Same order and parameters as render(): draft, shrink to display_max (reducing_gap=2.0), then
    upright (EXIF orientation), mode conversion, display encode, thumbnail (reducing_gap=1.0), thumb encode.
    The one addition is an explicit load() before the display thumbnail(), so that decoding is timed
    on its own (render() decodes inside thumbnail(), or in its load() when the draft is already
    small enough). main() checks that the replica's output bytes equal render()'s, which catches drift;
    --profile profiles the real function.
    """
    samples: dict[str, list[float]] = {}
    scale = 1
    display = thumb = b""

    def lap(name: str, start: float) -> float:
        now = time.perf_counter()
        samples.setdefault(name, []).append((now - start) * 1000)
        return now

    for i in range(runs + 1):
        gc.collect()
        t = time.perf_counter()
        image = Image.open(io.BytesIO(data), formats=images.ACCEPTED_FORMATS)
        icc_profile = image.info.get("icc_profile")
        jpeg = image.format in images.JPEG_FORMATS
        scale = images._draft_scale(max(image.size), DISPLAY_MAX) if jpeg else 1
        if scale > 1:
            image.draft("RGB", (max(1, image.width // scale), max(1, image.height // scale)))
        t = lap("open + parse header + draft", t)
        image.load()
        t = lap("decode", t)
        image.thumbnail((DISPLAY_MAX, DISPLAY_MAX), Image.Resampling.LANCZOS, reducing_gap=2.0)
        t = lap("display thumbnail()", t)
        image = images.upright(image)
        if image.mode in ("RGBA", "LA", "P"):
            rgba = image.convert("RGBA")
            image = Image.new("RGB", rgba.size, (255, 255, 255))
            image.paste(rgba, mask=rgba.getchannel("A"))
        elif image.mode != "RGB":
            image = image.convert("RGB")
        t = lap("upright (+ mode)", t)
        display = images._encode(image, 85, icc_profile)
        t = lap("encode display q85", t)
        thumb_image = image.copy()
        thumb_image.thumbnail((THUMB_MAX, THUMB_MAX), Image.Resampling.LANCZOS, reducing_gap=1.0)
        t = lap("thumb copy + thumbnail()", t)
        thumb = images._encode(thumb_image, 80, icc_profile)
        lap("encode thumb q80", t)
        if i == 0:  # warm-up
            samples.clear()
    medians = {name: statistics.median(values) for name, values in samples.items()}
    return Stages(scale, medians, display, thumb)


# --------------------------------------------------------------------------- checks


def check(case: Case) -> list[str]:
    """Problems with inspect()/render() output for this case; empty if all is well."""
    problems = []
    info = upload_check(case.data)
    if info.format != case.expect_format:
        problems.append(f"inspect format {info.format!r}, expected {case.expect_format!r}")
    if (info.width, info.height) != case.upright_size:
        problems.append(f"inspect size {info.width}x{info.height}, expected {case.upright_size}")
    if case.expect_taken_at and info.taken_at is None:
        problems.append("inspect lost DateTimeOriginal")

    rendered = worker_render(case.data)
    up_w, up_h = case.upright_size
    for label, blob, limit in (("display", rendered.display, DISPLAY_MAX), ("thumb", rendered.thumb, THUMB_MAX)):
        out = Image.open(io.BytesIO(blob))
        if out.format != "JPEG":
            problems.append(f"{label} is {out.format}, not JPEG")
        if max(out.size) > limit:
            problems.append(f"{label} {out.width}x{out.height} exceeds {limit} px")
        if (out.width > out.height) != (up_w > up_h):
            problems.append(f"{label} {out.width}x{out.height} not upright (expected {up_w}x{up_h} shape)")
        if label == "display" and (out.width, out.height) != (rendered.width, rendered.height):
            problems.append(f"Rendered.width/height {rendered.width}x{rendered.height} != {out.size}")
        # The red marker sits at the stored top-left; after orientation 6 it must be at the top-right.
        rotated = case.orientation in images.ROTATED_ORIENTATIONS
        corner = (out.width - 1 - out.width // 40, out.height // 40) if rotated else (out.width // 40, out.height // 40)
        r, g, b = out.convert("RGB").getpixel(corner)
        if not (r > 200 and g < 60 and b < 60):
            problems.append(f"{label}: marker not at the expected corner {corner} (got {(r, g, b)}): not upright")
        if len(out.getexif()):
            problems.append(f"{label} has EXIF tags {sorted(out.getexif())}")
        if b"GPS" in blob:
            problems.append(f"{label} contains b'GPS'")
        if XMP_NS in blob or b"xmpmeta" in blob:
            problems.append(f"{label} contains XMP")
    return problems


def time_upload_requests(cases: list[Case], runs: int) -> None:
    """Whole POST /api/v1/photos requests through the Flask test client: multipart parsing, inspect,
    SHA-256, writing the original, one INSERT (temporary SQLite; no Redis, so the job is left for the
    sweep). Server time only: no network, no gunicorn."""
    import config
    from backend import create_app

    with tempfile.TemporaryDirectory(prefix="bench-photos-") as root:
        app = create_app(
            config.TestingConfig,
            {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{root}/bench.db", "REDIS_URL": "", "MEDIA_ROOT": f"{root}/media"},
        )
        logging.getLogger("workers.queues").setLevel(logging.ERROR)  # "redis unavailable" on every upload
        with app.app_context():
            from flask_migrate import upgrade

            upgrade()
        client = app.test_client()
        token = client.post("/api/v1/auth/dev", json={"openid": "bench"}).json["token"]

        def upload(data: bytes) -> None:
            response = client.post(
                "/api/v1/photos",
                headers={"Authorization": f"Bearer {token}"},
                data={"file": (io.BytesIO(data), "photo")},
                content_type="multipart/form-data",
            )
            assert response.status_code == 201, response.json

        print("Whole upload requests (POST /api/v1/photos, Flask test client):")
        print()
        print(fmt_row(["case", "file MB", "median ms", "p95 ms", "CPU median ms"]))
        print(fmt_row(["---"] + ["---:"] * 4))
        for case in cases:
            t = measure(lambda c=case: upload(c.data), runs)
            cells = [f"{len(case.data) / 1e6:.2f}", f"{t.median:.1f}", f"{t.p95:.1f}", f"{t.cpu_median:.1f}"]
            print(fmt_row([case.name, *cells]))


# --------------------------------------------------------------------------- report


def machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{cores} cores, {model}"


def fmt_row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=20, help="timed runs per measurement (default 20)")
    parser.add_argument("--profile", action="store_true", help="cProfile render() of the 12 MP JPEG")
    parser.add_argument("--no-heic", action="store_true", help="skip the HEIC case (its encode is slow)")
    parser.add_argument("--upload", action="store_true", help="also time whole POST /api/v1/photos requests")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    try:
        import pillow_heif

        heif_version = pillow_heif.__version__
    except ImportError:
        heif_version = "not installed"
    print(f"Python {platform.python_version()}, Pillow {PIL.__version__}, pillow-heif {heif_version}")
    print(f"Machine: {machine()}")
    print(
        f"display_max={DISPLAY_MAX}, thumb_max={THUMB_MAX}, max_pixels={MAX_PIXELS}, max_side={MAX_SIDE},"
        f" runs={args.runs}"
    )
    print("Generating test photos in memory...", flush=True)
    cases, notes = build_cases(include_heic=not args.no_heic)
    for note in notes:
        print(note)
    print()

    header = ["case", "file", "step", "median ms", "p95 ms", "CPU median ms", "peak RSS MB", "output"]
    print(fmt_row(header))
    print(fmt_row(["---"] * 3 + ["---:"] * 4 + ["---"]))

    def mb(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.0f}"

    failures: dict[str, list[str]] = {}
    jpeg12 = cases[0]
    for case in cases:
        size = f"{case.stored_size[0]}x{case.stored_size[1]}, {len(case.data) / 1e6:.2f} MB"
        info = upload_check(case.data)
        t = measure(lambda c=case: upload_check(c.data), args.runs)
        peak = peak_rss_mb("inspect", case.data)
        out = f"{info.format} {info.width}x{info.height}"
        cells = [f"{t.median:.2f}", f"{t.p95:.2f}", f"{t.cpu_median:.2f}", mb(peak), out]
        print(fmt_row([case.name, size, "inspect", *cells]))
        peak = peak_rss_mb("render", case.data)
        rendered = worker_render(case.data)
        t = measure(lambda c=case: worker_render(c.data), args.runs)
        thumb = Image.open(io.BytesIO(rendered.thumb)).size
        out = (
            f"{rendered.width}x{rendered.height} ({len(rendered.display) // 1024} KB)"
            f" + {thumb[0]}x{thumb[1]} ({len(rendered.thumb) // 1024} KB)"
        )
        print(fmt_row(["", "", "render", f"{t.median:.1f}", f"{t.p95:.1f}", f"{t.cpu_median:.1f}", mb(peak), out]))
        if case is jpeg12:
            display, _ = naive_render(case.data, DISPLAY_MAX, THUMB_MAX)
            t = measure(lambda c=case: naive_render(c.data, DISPLAY_MAX, THUMB_MAX), args.runs)
            naive_size = Image.open(io.BytesIO(display)).size
            out = f"{naive_size[0]}x{naive_size[1]} (no draft mode, for comparison)"
            print(fmt_row(["", "", "naive render", f"{t.median:.1f}", f"{t.p95:.1f}", f"{t.cpu_median:.1f}", "", out]))
        problems = check(case)
        if problems:
            failures[case.name] = problems

    print()
    print("render() by step, median ms (a replica of images.render's steps; see render_stages):")
    print()
    breakdown = {case.name: render_stages(case.data, args.runs) for case in cases}
    steps = list(next(iter(breakdown.values())).median_ms)
    print(fmt_row(["step", *breakdown]))
    print(fmt_row(["---"] + ["---:"] * len(breakdown)))
    print(fmt_row(["draft scale", *(f"1/{st.scale}" for st in breakdown.values())]))
    for step in steps:
        print(fmt_row([step, *(f"{st.median_ms[step]:.1f}" for st in breakdown.values())]))
    print(fmt_row(["**sum**", *(f"**{sum(st.median_ms.values()):.1f}**" for st in breakdown.values())]))
    for case in cases:
        rendered = worker_render(case.data)
        stages = breakdown[case.name]
        if (stages.display, stages.thumb) != (rendered.display, rendered.thumb):
            failures.setdefault(case.name, []).append("render_stages output differs from images.render: update it")
    print()
    print(
        "render_stages replica output matches images.render byte for byte"
        if not any("render_stages" in p for ps in failures.values() for p in ps)
        else "render_stages replica output DIFFERS from images.render (see below)"
    )

    if args.upload:
        print()
        time_upload_requests(cases, args.runs)

    if args.profile:
        print()
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(args.runs):
            worker_render(jpeg12.data)
        profiler.disable()
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(12)

    print()
    if failures:
        print("Output checks FAILED:")
        for name, problems in failures.items():
            for problem in problems:
                print(f"  {name}: {problem}")
        return 1
    print("Output checks passed: display <= 2048 px and thumb <= 360 px, upright, JPEG, no EXIF, no b'GPS', no XMP.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
