"""Thumbnail benchmark: make_thumbnails against naive Pillow and libvips on three generated originals.

Timing: every contender runs once untimed (imports, thread start-up, a check of its output sizes),
then `runs` rounds that call each contender in turn, so load from other processes on the machine
falls on all of them alike; the median of the rounds is kept.

Memory: each contender runs once in a fresh interpreter (`python -m bench.thumbnails --rss NAME FILE`)
that first imports everything the call will use, then resets the kernel's peak-RSS mark. The baseline
is VmRSS at that point, the peak is VmHWM after the call (both /proc/self/status). The input bytes
are read after the baseline, so they count against the contender.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.report import Report, table
from chalicelib.imaging.thumbnails import SIZES, make_thumbnails

Thumbnailer = Callable[[bytes], dict[str, bytes]]

QUALITY = 85
TARGET_SPEEDUP = 6.0  # ours at least this many times faster than naive on the JPEG
TARGET_VIPS_RATIO = 1.0  # ours / fastest pyvips at most this on the JPEG
TARGET_RSS_MB = 64.0  # ours' peak above the interpreter baseline on the JPEG


@dataclass(frozen=True)
class Case:
    name: str
    label: str
    data: bytes
    size: tuple[int, int]


# --- the originals, generated the same way every run -------------------------------------------------


def _noise(rng: random.Random, size: tuple[int, int], mode: str) -> Any:
    from PIL import Image

    return Image.frombytes(mode, size, rng.randbytes(size[0] * size[1] * len(mode)))


def _scene(rng: random.Random, size: tuple[int, int], shapes: int, grain: float) -> Any:
    """Photo-like RGB: smooth colour fields, soft-edged objects, luminance texture and sensor grain."""
    from PIL import Image, ImageDraw, ImageFilter

    width, height = size
    image = _noise(rng, (6, 5), "RGB").resize(size, Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(image)
    for _ in range(shapes):
        x, y, r = rng.randrange(width), rng.randrange(height), rng.randrange(width // 250, width // 11)
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        if rng.random() < 0.6:
            draw.ellipse((x - r, y - r, x + r, y + int(r * rng.uniform(0.3, 1.5))), fill=colour)
        else:
            draw.line(
                (x, y, rng.randrange(width), rng.randrange(height)), fill=colour, width=rng.randrange(2, 14)
            )
    image = image.filter(ImageFilter.GaussianBlur(1.2))  # lens softness: no aliased drawing edges
    texture = _noise(rng, (width // 6, height // 6), "L").resize(size, Image.Resampling.BICUBIC)
    image = Image.blend(image, texture.convert("RGB"), 0.22)
    if grain:
        image = Image.blend(image, _noise(rng, size, "L").convert("RGB"), grain)
    return image


def photo_jpeg() -> bytes:
    """12 MP camera-like JPEG at quality 90 (about 3.6 MB, so entropy decoding costs what a photo's does)."""
    out = io.BytesIO()
    _scene(random.Random(12), (4000, 3000), shapes=120, grain=0.07).save(out, "JPEG", quality=90)
    return out.getvalue()


def alpha_png() -> bytes:
    """4 MP RGBA PNG: a cut-out with a soft vignette of transparency and fully transparent holes."""
    from PIL import Image, ImageDraw

    rng = random.Random(4)
    image = _scene(rng, (2000, 2000), shapes=60, grain=0.0)
    alpha = Image.radial_gradient("L").resize((2000, 2000), Image.Resampling.BICUBIC)
    alpha = alpha.point(lambda v: 255 - min(255, max(0, (v - 60) * 2)))
    draw = ImageDraw.Draw(alpha)
    for _ in range(12):
        x, y, r = rng.randrange(2000), rng.randrange(2000), rng.randrange(30, 200)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=0)
    image.putalpha(alpha)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def animated_gif() -> bytes:
    """60 frames of 480x360 on one 256-colour palette: moving objects over a photo-like background."""
    from PIL import ImageDraw

    rng = random.Random(60)
    background = _scene(rng, (480, 360), shapes=15, grain=0.0).quantize(256)
    movers = [
        (rng.randrange(480), rng.randrange(360), rng.randrange(10, 50), rng.randrange(256)) for _ in range(8)
    ]
    frames = []
    for i in range(60):
        frame = background.copy()
        draw = ImageDraw.Draw(frame)
        for x, y, r, colour in movers:
            cx, cy = (x + 7 * i) % 480, (y + 3 * i) % 360
            draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=colour)
        frames.append(frame)
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=40, loop=0)
    return out.getvalue()


def cases() -> list[Case]:
    return [
        Case("jpeg", "JPEG 4000x3000 q90", photo_jpeg(), (4000, 3000)),
        Case("png", "PNG RGBA 2000x2000", alpha_png(), (2000, 2000)),
        Case("gif", "GIF 480x360x60", animated_gif(), (480, 360)),
    ]


# --- the contenders ------------------------------------------------------------------------------------


def expected_sizes(width: int, height: int) -> dict[str, tuple[int, int]]:
    sizes = {}
    for suffix, kind, px in SIZES:
        if kind == "crop":
            side = min(px, width, height)
            sizes[suffix] = (side, side)
        else:
            scale = min(1.0, px / max(width, height))
            sizes[suffix] = (max(1, round(width * scale)), max(1, round(height * scale)))
    return sizes


def ours(data: bytes) -> dict[str, bytes]:
    return make_thumbnails(data, quality=QUALITY)


def naive(data: bytes) -> dict[str, bytes]:
    """Full decode, then every size straight from the full-resolution frame with LANCZOS."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as original:
        original.load()
        if original.mode in ("RGBA", "LA", "PA") or "transparency" in original.info:
            rgba = original.convert("RGBA")
            full = Image.new("RGB", original.size, (255, 255, 255))
            full.paste(rgba, (0, 0), rgba)
        else:
            full = original.convert("RGB")
    width, height = full.size
    out = {}
    for suffix, size in expected_sizes(width, height).items():
        side = min(width, height)
        box = None
        if suffix in ("b", "s"):
            left, top = (width - side) / 2, (height - side) / 2
            box = (left, top, left + side, top + side)
        buffer = io.BytesIO()
        full.resize(size, Image.Resampling.LANCZOS, box=box).save(buffer, "JPEG", quality=QUALITY)
        out[suffix] = buffer.getvalue()
    return out


def _pyvips() -> Any:
    import pyvips  # type: ignore[import-untyped,unused-ignore]

    pyvips.cache_set_max(0)  # the operation cache would hand back results from the previous round
    return pyvips


def _vips_srgb(image: Any) -> Any:
    if image.hasalpha():
        image = image.flatten(background=[255, 255, 255])
    return image if image.interpretation == "srgb" else image.colourspace("srgb")


def _vips_jpeg(image: Any) -> bytes:
    return bytes(image.jpegsave_buffer(Q=QUALITY, keep="none"))


def pyvips_per_size(data: bytes) -> dict[str, bytes]:
    """libvips' own recipe: thumbnail_buffer per size (shrink-on-load for JPEG, lanczos3, centre crop)."""
    pyvips = _pyvips()
    out = {}
    for suffix, kind, px in SIZES:
        crop = "centre" if kind == "crop" else "none"
        image = pyvips.Image.thumbnail_buffer(data, px, height=px, size="down", crop=crop)
        out[suffix] = _vips_jpeg(_vips_srgb(image))
    return out


def pyvips_chained(data: bytes) -> dict[str, bytes]:
    """libvips done like ours, its fastest way found: one shrink-on-load decode, then each size from a
    smaller picture with resize (lanczos3); about a third faster here than thumbnail_buffer for h
    and thumbnail_image for the rest."""
    pyvips = _pyvips()
    header = pyvips.Image.new_from_buffer(data, "")  # lazy: reads the header only
    sizes = expected_sizes(header.width, header.height)
    options = {}
    if header.get("vips-loader").startswith("jpegload"):
        # The largest DCT shrink that keeps h whole, as Pillow's draft picks it.
        need_w, need_h = sizes["h"]
        options["shrink"] = next(
            s for s in (8, 4, 2, 1) if header.width // s >= need_w and header.height // s >= need_h
        )
    base = _vips_srgb(pyvips.Image.new_from_buffer(data, "", **options))
    # copy_memory: libvips is demand-driven, so without it every output would re-run the decode.
    made: dict[str, Any] = {}
    previous = base
    for suffix in ("h", "l", "m", "t"):
        tw, th = sizes[suffix]
        if (previous.width, previous.height) != (tw, th):
            previous = previous.resize(tw / previous.width, vscale=th / previous.height)
        previous = made[suffix] = previous.copy_memory()
    for suffix in ("b", "s"):
        side = sizes[suffix][0]
        source = min(
            (p for p in made.values() if min(p.width, p.height) >= side), key=lambda p: p.width * p.height
        )
        square = min(source.width, source.height)
        cut = source.crop((source.width - square) // 2, (source.height - square) // 2, square, square)
        made[suffix] = (cut.resize(side / square) if square != side else cut).copy_memory()
    return {suffix: _vips_jpeg(made[suffix]) for suffix, _, _ in SIZES}


def contenders() -> tuple[dict[str, Thumbnailer], str | None]:
    found: dict[str, Thumbnailer] = {"ours": ours, "naive": naive}
    try:
        _pyvips()
    except (ImportError, OSError) as e:  # no wheel, or the wheel without its libvips
        return found, f"pyvips skipped: {type(e).__name__}: {e}"
    found |= {"pyvips/size": pyvips_per_size, "pyvips/chain": pyvips_chained}
    return found, None


# --- measuring -------------------------------------------------------------------------------------------


def _dimensions(thumbnails: dict[str, bytes]) -> dict[str, tuple[int, int]]:
    from PIL import Image

    return {suffix: Image.open(io.BytesIO(data)).size for suffix, data in thumbnails.items()}


def _psnr(ours_jpeg: bytes, reference_jpeg: bytes) -> float:
    """Decoded outputs against naive's (both JPEG q85), in dB; inf when identical."""
    from PIL import Image, ImageChops, ImageStat

    a = Image.open(io.BytesIO(ours_jpeg)).convert("RGB")
    b = Image.open(io.BytesIO(reference_jpeg)).convert("RGB")
    if a.size != b.size:
        return float("nan")
    mse = statistics.fmean(rms**2 for rms in ImageStat.Stat(ImageChops.difference(a, b)).rms)
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


@dataclass(frozen=True)
class Timing:
    median: dict[str, float]  # seconds per contender
    best: dict[str, float]
    psnr: dict[str, float]  # worst size against naive's JPEGs, dB
    problems: list[str]


def time_case(case: Case, found: dict[str, Thumbnailer], runs: int) -> Timing:
    problems = []
    outputs = {name: fn(case.data) for name, fn in found.items()}  # the untimed first run
    expected = expected_sizes(*case.size)
    for name, thumbnails in outputs.items():
        got = _dimensions(thumbnails)
        if got != expected:
            problems.append(f"{case.name}/{name}: sizes {got} != {expected}")
    psnr = {
        name: round(min(_psnr(outputs[name][s], outputs["naive"][s]) for s in expected), 1)
        for name in outputs
        if name != "naive"
    }
    samples: dict[str, list[float]] = {name: [] for name in found}
    for _ in range(runs):
        for name, fn in found.items():
            started = time.perf_counter()
            fn(case.data)
            samples[name].append(time.perf_counter() - started)
    median = {name: statistics.median(s) for name, s in samples.items()}
    return Timing(median, {name: min(s) for name, s in samples.items()}, psnr, problems)


def peak_rss_mb(contender: str, data: bytes) -> float | None:
    """Peak resident memory of one call above the interpreter baseline, in a fresh process."""
    with tempfile.NamedTemporaryFile(suffix=".bin") as f:
        f.write(data)
        f.flush()
        done = subprocess.run(
            [sys.executable, "-m", "bench.thumbnails", "--rss", contender, f.name],
            capture_output=True,
            text=True,
            check=False,
            cwd=Path(__file__).resolve().parent.parent,
        )
    if done.returncode != 0:
        print(f"rss {contender}: {done.stderr.strip()[-500:]}", file=sys.stderr)
        return None
    return round(json.loads(done.stdout)["peak_above_baseline_mb"], 1)


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(field)


def _rss_child(contender: str, path: str) -> None:
    from PIL import GifImagePlugin, Image, ImageCms, JpegImagePlugin, PngImagePlugin  # noqa: F401

    Image.preinit()
    found, _ = contenders()  # imports pyvips (and loads libvips) when present
    fn = found[contender]
    # ru_maxrss survives exec on Linux (it would report the parent's size), so read the peak of this
    # process's own memory, VmHWM, after resetting it to the current size ("5" > clear_refs, Linux 4.0+).
    # Without the reset the peak includes the imports: an overestimate, never an underestimate.
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")
    baseline = _status_kb("VmRSS")
    fn(Path(path).read_bytes())
    peak = _status_kb("VmHWM")
    print(json.dumps({"peak_above_baseline_mb": (peak - baseline) / 1024, "baseline_mb": baseline / 1024}))


# --- the report -------------------------------------------------------------------------------------


def run(runs: int) -> Report:
    load_before = os.getloadavg()[0]
    generated = time.perf_counter()
    all_cases = cases()
    generated = time.perf_counter() - generated
    found, skipped = contenders()
    vips = [name for name in found if name.startswith("pyvips")]
    results: dict[str, Any] = {}
    problems: list[str] = []
    for case in all_cases:
        timing = time_case(case, found, runs)
        problems += timing.problems
        seconds = timing.median
        best_vips = min((seconds[name] for name in vips), default=None)
        results[case.name] = {
            "label": case.label,
            "input_bytes": len(case.data),
            "seconds": {name: round(s, 4) for name, s in seconds.items()},
            "fastest_run_seconds": {name: round(s, 4) for name, s in timing.best.items()},
            "speedup_vs_naive": round(seconds["naive"] / seconds["ours"], 2),
            "ours_over_best_pyvips": round(seconds["ours"] / best_vips, 3) if best_vips else None,
            "peak_rss_mb": {name: peak_rss_mb(name, case.data) for name in found},
            "worst_psnr_vs_naive_db": timing.psnr,
        }
    jpeg = results["jpeg"]
    targets = {
        "speedup_vs_naive >= 6": jpeg["speedup_vs_naive"] >= TARGET_SPEEDUP,
        "ours_over_best_pyvips <= 1.0": None
        if jpeg["ours_over_best_pyvips"] is None
        else jpeg["ours_over_best_pyvips"] <= TARGET_VIPS_RATIO,
        "ours peak RSS < 64 MB": (jpeg["peak_rss_mb"]["ours"] or math.inf) < TARGET_RSS_MB,
    }
    data = {
        "runs": runs,
        "cpus": os.cpu_count(),
        # Other work on the machine slows every contender; libvips, needing less CPU in all, slows least.
        "load_average_1min": {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)},
        "generate_seconds": round(generated, 2),
        "python": sys.version.split()[0],
        "pyvips": skipped or _vips_version(),
        "contenders": list(found),
        "cases": results,
        "targets_jpeg": targets,
        "problems": problems,
    }
    return Report(_text(data), data)


def _vips_version() -> str:
    pyvips = _pyvips()
    return f"pyvips {pyvips.__version__}, libvips {pyvips.version(0)}.{pyvips.version(1)}.{pyvips.version(2)}"


def _text(data: dict[str, Any]) -> str:
    names, results = data["contenders"], data["cases"]
    header = ["case", *(f"{n} ms" for n in names), "naive/ours", "ours/pyvips", "ours RSS MB", "PSNR dB"]
    rows = []
    for result in results.values():
        ratio = result["ours_over_best_pyvips"]
        rows.append(
            [
                result["label"],
                *(f"{result['seconds'][n] * 1000:.1f}" for n in names),
                f"{result['speedup_vs_naive']:.1f}x",
                "skipped" if ratio is None else f"{ratio:.2f}",
                f"{result['peak_rss_mb']['ours']}",
                f"{result['worst_psnr_vs_naive_db']['ours']:.1f}",
            ]
        )
    rss_rows = [[r["label"], *(f"{r['peak_rss_mb'][n]}" for n in names)] for r in results.values()]
    load = data["load_average_1min"]
    lines = [
        f"thumbnails: all six sizes per original, median of {data['runs']} interleaved runs",
        f"({data['cpus']} CPUs, load average {load['before']} -> {load['after']}; {data['pyvips']})",
        table(header, rows),
        "",
        "peak RSS above the interpreter baseline, MB (one call in a fresh process)",
        table(["case", *names], rss_rows),
        "",
        "ours/pyvips is against the faster pyvips variant; PSNR is ours' worst size against naive's JPEGs.",
    ]
    marks = {True: "met", False: "MISSED", None: "not measured"}
    lines.append(
        "JPEG targets: " + "; ".join(f"{name}: {marks[ok]}" for name, ok in data["targets_jpeg"].items())
    )
    lines += [f"size mismatch: {p}" for p in data["problems"]]
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--rss":
        _rss_child(sys.argv[2], sys.argv[3])
    else:
        sys.exit(
            "usage: python -m bench.thumbnails --rss CONTENDER FILE (run the benchmark with python -m bench)"
        )
