"""Time the page against Python on the same .tflite and photo, in one run; optionally screenshot it.

For each model: the page in headless Chromium (Wasm CPU) is given the photo through its file
picker, then segments it `--frames` more times after `--warmup` frames; Python runs the same file
with ai_edge_litert on as many threads as the page's runtime uses, a frame after each of the
page's, so that both share whatever else the machine is doing. Both times are the model alone
(input in, label map out: the page's `timing.model`, the interpreter's `invoke` with its input
copy and output read). Also reported: how many pixels of the photo's label map the page and
predict.py's predictor agree on.

    python -m benchmarks.browser --model web/models/fast_scnn_cls_float32_360x480.tflite \\
        --image data/CamVid/test/0001TP_008550.png --screenshot docs/web_page.jpg

The page's server and browser helpers (web/serve.py, web/headless.py) are loaded from their files
by name: web/ is no package.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

WEB = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "web")


def _web_module(name: str):
    """web/<name>.py as module `name`, registered under that name: headless.py imports serve.py
    as `serve`."""
    spec = importlib.util.spec_from_file_location(name, os.path.join(WEB, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


serve = _web_module("serve")
headless = _web_module("headless")

PAGE_FILES = ("index.html", "style.css", "js", "node_modules")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument(
        "--model",
        nargs="+",
        required=True,
        help=".tflite files written by export.py (their .json beside them); "
        "the first is the one screenshotted",
    )
    parser.add_argument("--image", required=True, help="the photo every model segments")
    parser.add_argument("--frames", type=int, default=30, help="timed frames per model and runtime")
    parser.add_argument("--warmup", type=int, default=5, help="untimed frames before them")
    parser.add_argument(
        "--screenshot",
        help="write a picture of the page with the first model's "
        "result here (.png, or .jpg for a smaller file)",
    )
    parser.add_argument(
        "--opacity", type=float, default=0.6, help="the overlay opacity in the screenshot"
    )
    parser.add_argument("--json", help="also write the numbers here")
    return parser.parse_args(argv)


def site_with(models: list[str]) -> str:
    """A temporary folder laid out as web/ is, its models/ holding links to `models` and their
    JSON: the page can open any export without copying it into web/models."""
    root = tempfile.mkdtemp(prefix="fast_scnn_web_")
    for name in PAGE_FILES:
        os.symlink(os.path.join(serve.FOLDER, name), os.path.join(root, name))
    os.mkdir(os.path.join(root, "models"))
    for model in models:
        for path in (model, model[: -len(".tflite")] + ".json"):
            if os.path.isfile(path):
                os.symlink(
                    os.path.abspath(path), os.path.join(root, "models", os.path.basename(path))
                )
    return root


def python_runner(model: str, image: np.ndarray, threads: int):
    """One frame of ai_edge_litert per call: `image` resized to the model's input, as predict.py
    feeds it."""
    import cv2

    from fast_scnn_tf.export import tflite

    interp = tflite.interpreter(model, num_threads=threads)
    _, height, width, _ = interp.get_input_details()[0]["shape"]
    frame = cv2.resize(image, (int(width), int(height)), interpolation=cv2.INTER_LINEAR)[None]

    def one_frame() -> None:
        tflite.run(interp, frame)

    return one_frame


def time_page_and_python(page, python_frame, warmup: int, frames: int) -> tuple[list[dict], dict]:
    """The page's own timings of `frames` frames (`fastScnn.timeModel`) and `speed.summarize` of
    as many Python frames, a Python frame after each of the page's so that both see the same
    load, after `warmup` untimed frames of each."""
    from benchmarks import speed

    page_timings = []

    def page_frame() -> None:
        page_timings.append(page.evaluate("fastScnn.timeModel(1)")[0])

    timed = speed.time_interleaved({"page": page_frame, "python": python_frame}, warmup, frames)
    return page_timings[warmup:], timed["python"]


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        return names[0] if names else platform.machine()
    except OSError:
        return platform.processor() or platform.machine()


def chromium_version() -> str:
    try:
        out = subprocess.run(
            [headless.CHROMIUM, "--version"], capture_output=True, text=True, timeout=30
        ).stdout
        return out.strip().splitlines()[-1] if out.strip() else "unknown"
    except OSError:
        return "unknown"


def main(argv=None) -> int:
    args = parse_args(argv)
    why = headless.missing()
    if why:
        print(why, file=sys.stderr)
        return 1
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from fast_scnn_tf.data.images import read_image
    from fast_scnn_tf.predict.predictor import load_predictor

    image = read_image(args.image)
    rows = []
    with headless.served(site_with(args.model)) as url, headless.browser() as context:
        for n, model in enumerate(args.model):
            page = context.new_page()
            page.set_viewport_size({"width": 1000, "height": 700})
            page.goto(f"{url}?backend=wasm&model=models/{os.path.basename(model)}")
            if headless.wait_until_settled(page) != "ready":
                print(f"{model}: the page says: {page.inner_text('#error')}", file=sys.stderr)
                return 1
            result = headless.segment_photo(page, args.image)
            browser_labels = np.array(result["labels"], np.uint8).reshape(
                result["height"], result["width"]
            )
            predict, _, _ = load_predictor(model)
            agreement = float((browser_labels == predict(image)).mean())
            runtime = page.evaluate("fastScnn.runtime()")
            python_frame = python_runner(model, image, runtime["threads"])
            timings, python = time_page_and_python(page, python_frame, args.warmup, args.frames)
            browser = [t["model"] for t in timings]
            resize = [t["resize"] + t["back"] for t in timings]
            rows.append(
                {
                    "model": os.path.basename(model),
                    "backend": runtime["label"],
                    "threads": runtime["threads"],
                    "browser_ms_median": statistics.median(browser),
                    "browser_resize_ms_median": statistics.median(resize),
                    "python_ms_median": python["median_ms"],
                    "agreement": agreement,
                }
            )
            print(
                f"{rows[-1]['model']}: page {rows[-1]['browser_ms_median']:.1f} ms per frame "
                f"({runtime['label']}; + {rows[-1]['browser_resize_ms_median']:.1f} ms of "
                f"resizing), Python TFLite {rows[-1]['python_ms_median']:.1f} ms "
                f"({runtime['threads']} threads); label maps agree on {100 * agreement:.3f}% "
                f"of the photo's pixels",
                flush=True,
            )
            if n == 0 and args.screenshot:  # the timing line now shows the frames just timed
                page.fill("#opacity", str(args.opacity))
                page.dispatch_event("#opacity", "input")
                shot = {"path": args.screenshot, "full_page": True}
                if args.screenshot.lower().endswith((".jpg", ".jpeg")):
                    shot.update(type="jpeg", quality=80)
                page.screenshot(**shot)
                kilobytes = os.path.getsize(args.screenshot) // 1024
                print(f"screenshot: {args.screenshot} ({kilobytes} kB)")
            page.close()
    environment = {
        "browser": chromium_version(),
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "image": os.path.basename(args.image),
        "frames": args.frames,
        "warmup": args.warmup,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    print(json.dumps(environment))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"environment": environment, "rows": rows}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
