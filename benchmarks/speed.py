"""The timing every benchmark uses: `time_calls` and `time_interleaved` time repeated calls
(mean, median, p90, FPS), `Unit` and `timed_rounds` time many things in interleaved rounds (the
median of each round, then the median over rounds), and `environment` says where it ran.

Inference is timed the way §4.1 of the paper measured it: batch 1, 100 warm-up frames, then the
mean over 100 frames, for the "cls" output (argmax -> uint8 labels) and the "prob" output
(softmax probabilities and labels). The Keras rows time the head that export ships
(`fast_scnn_tf.model.head.build_head`, uint8 frames in). The paper used one CPU thread and one GPU;
`configure_threads` sets that up.

Each timed call ends when the output is ready on the device (`sync_devices`), not when it has
been copied to the host: copying 19 float32 channels at 1024x2048 (160 MB) would time the bus.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import datetime
import os
import platform
import statistics
import time
from typing import Callable

import keras
import numpy as np
import tensorflow as tf

from fast_scnn_tf.model.head import CLS, build_head


def configure_threads(threads: int = 0) -> dict:
    """Set TensorFlow's thread pools before any op runs; returns the counts in force.

    threads > 0 sets both pools to it; 0 means one thread when a GPU is present (the paper's
    setting) and TensorFlow's default (all cores) on CPU.
    """
    if threads == 0 and tf.config.list_physical_devices("GPU"):
        threads = 1
    if threads > 0:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
        except RuntimeError:  # the runtime is already initialised: keep what is there
            pass
    return thread_counts()


# glibc's mallopt parameters
M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4
_MALLOC = {"malloc": "default"}


def keep_freed_memory() -> dict:
    """glibc malloc for the whole benchmark process: every block from the heap (no mmap) and freed
    memory kept, not returned to the system. With the defaults, each PyTorch frame at 1024x2048
    maps and page-faults its large activations anew, a swing larger than the ratios measured
    (docs/benchmarks.md). TFLite plans its arena once and is unaffected. Call it before timing
    anything; a no-op (recorded as such) where the C library has no mallopt."""
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c")).mallopt
        ok = mallopt(M_MMAP_MAX, 0) == 1 and mallopt(M_TRIM_THRESHOLD, 2**31 - 1) == 1
    except (OSError, AttributeError, TypeError):
        ok = False
    _MALLOC["malloc"] = "glibc: no mmap, no trim" if ok else "default (no mallopt)"
    return dict(_MALLOC)


def thread_counts() -> dict:
    """TensorFlow's intra/inter-op thread counts (0 = default: one per core) and the cores."""
    return {
        "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
        "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
        "cpu_cores": os.cpu_count(),
    }


def summarize(times_s, warmup: int) -> dict:
    """mean/median/p90 milliseconds and FPS (1 / mean) of per-frame times in seconds."""
    ms = 1000.0 * np.asarray(times_s, np.float64)
    mean = float(ms.mean())
    return {
        "mean_ms": mean,
        "median_ms": float(np.median(ms)),
        "p90_ms": float(np.percentile(ms, 90)),
        "fps": 1000.0 / mean,
        "warmup": int(warmup),
        "iters": int(ms.size),
    }


def time_calls(run, warmup: int, iters: int) -> dict:
    """`summarize` of `iters` timed calls of `run` after `warmup` untimed ones."""
    return time_interleaved({"": run}, warmup, iters)[""]


def time_interleaved(runs: dict, warmup: int, iters: int) -> dict:
    """{name: `summarize`} for each callable of `runs`, called in turn `iters` times after
    `warmup` untimed calls each: a slow phase of the machine slows every one alike."""
    if iters < 1:
        raise ValueError(f"iters must be >= 1, got {iters}")
    for run in runs.values():
        for _ in range(warmup):
            run()
    times = {name: [] for name in runs}
    for _ in range(iters):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return {name: summarize(t, warmup) for name, t in times.items()}


class Unit:
    """One thing timed in interleaved rounds (`timed_rounds`): a .tflite (a whole export, a
    partition or one op) with random inputs set once, or any no-argument callable (`run`).
    `times` holds each round's median ms, `ms` the median over rounds."""

    def __init__(self, model: bytes | None = None, threads: int = 2, run=None):
        self.times: list[float] = []
        self.delegated = False
        if run is not None:
            self.run = run
            return
        from fast_scnn_tf.export import tflite

        self.interp = tflite.interpreter(model, threads)
        self.run = self.interp.invoke
        self.delegated = any(op["op_name"] == "DELEGATE" for op in self.interp._get_ops_details())
        rng = np.random.default_rng(0)
        for detail in self.interp.get_input_details():
            shape, dtype = detail["shape"], np.dtype(detail["dtype"])
            if dtype.kind == "f":
                value = rng.normal(size=shape).astype(dtype)
            elif dtype == np.int32:  # argmax indices (the CAST after ARG_MAX)
                value = rng.integers(0, 19, size=shape).astype(dtype)
            else:
                info = np.iinfo(dtype)
                value = rng.integers(int(info.min), int(info.max) + 1, size=shape).astype(dtype)
            self.interp.set_tensor(detail["index"], value)

    def time(self, iters: int) -> None:
        """One round: the median of `iters` calls."""
        self.times.append(time_calls(self.run, 0, iters)["median_ms"])

    @property
    def ms(self) -> float:
        return statistics.median(self.times)


def timed_rounds(units: list[Unit], rounds: int, iters: int) -> None:
    """Time every unit once per round (one warm-up call first), rounds interleaved: a slow phase
    of the machine slows every unit alike."""
    for unit in units:
        unit.run()
    for _ in range(rounds):
        for unit in units:
            unit.time(iters)


# export.fast_graph's rewrite (what export.py ships) / the model as is
TFLITE_GRAPHS = ("fast", "plain")


def tflite_export(
    model: keras.Model,
    mode: str,
    precision: str,
    size: tuple[int, int],
    frames,
    graph: str = "fast",
) -> bytes:
    """The TFLite file export.py writes (`graph="fast"`), or the same without `fast_graph`'s
    rewrites (`"plain"`, the graph before them): `precision` float32 or a quantisation of
    `fast_scnn_tf.export.tflite`, calibrated on `frames`."""
    from fast_scnn_tf.export import tflite
    from fast_scnn_tf.export.fast_graph import fast_graph

    quantize = "none" if precision == "float32" else precision
    source = fast_graph(model) if graph == "fast" else model
    return tflite.convert(build_head(source, mode, size), quantize, lambda: frames)


def _random_image(height: int, width: int, dtype=tf.uint8) -> tf.Tensor:
    image = np.random.default_rng(0).integers(0, 256, (1, height, width, 3), np.uint8)
    return tf.constant(image, dtype=dtype)


def head_function(model: keras.Model, mode: str):
    """A tf.function uint8 images -> the exported head's outputs (`build_head(model, mode)`):
    cls labels (uint8), or prob {probabilities, labels}."""
    head = build_head(model, mode)

    @tf.function(reduce_retracing=True)
    def run(images):
        return head(images, training=False)

    return run


def time_keras(
    model: keras.Model,
    height: int,
    width: int,
    head: str = CLS,
    warmup: int = 100,
    iters: int = 100,
) -> dict:
    """Time the exported head of the Keras model as a tf.function on one random uint8 frame of
    height x width."""
    fn = head_function(model, head)
    image = _random_image(height, width)

    def run():
        fn(image)
        tf.test.experimental.sync_devices()

    return time_calls(run, warmup, iters)


def saved_model_runner(
    path: str, height: int, width: int, signature: str = "serving_default"
) -> Callable[[], None]:
    """A no-argument callable running a SavedModel signature that takes one image tensor
    [1, H, W, 3] (any dtype) on one random frame of height x width."""
    fn = tf.saved_model.load(path).signatures[signature]
    ((name, spec),) = fn.structured_input_signature[1].items()
    image = _random_image(height, width, spec.dtype)

    def run():
        fn(**{name: image})
        tf.test.experimental.sync_devices()

    return run


def time_saved_model(
    path: str,
    height: int,
    width: int,
    warmup: int = 100,
    iters: int = 100,
    signature: str = "serving_default",
) -> dict:
    """Time a SavedModel signature that takes one image tensor [1, H, W, 3] (any dtype)."""
    return time_calls(saved_model_runner(path, height, width, signature), warmup, iters)


def tflite_runner(
    path: str, threads: int | None = None, height: int | None = None, width: int | None = None
) -> tuple[Callable[[], None], dict]:
    """(a no-argument callable invoking a TFLite file with `ai_edge_litert` on one random input,
    {threads, input_shape, input_dtype}).

    A model with a dynamic input size is resized to height x width; a fixed-size model runs at its
    own size (then height/width must match it or be None). `threads` None = all cores.
    """
    from ai_edge_litert.interpreter import Interpreter

    threads = threads or os.cpu_count()
    interpreter = Interpreter(model_path=path, num_threads=threads)
    detail = interpreter.get_input_details()[0]
    shape = list(detail["shape"])
    signature = list(detail["shape_signature"])
    if height and width:
        wanted = [1, height, width, 3]
        if shape != wanted:
            if -1 not in signature[1:3]:
                raise ValueError(f"TFLite model '{path}' has a fixed input {shape}, not {wanted}")
            interpreter.resize_tensor_input(detail["index"], wanted)
        shape = wanted
    interpreter.allocate_tensors()
    data = np.random.default_rng(0).integers(0, 256, shape).astype(detail["dtype"])
    interpreter.set_tensor(detail["index"], data)
    info = {
        "threads": threads,
        "input_shape": [int(s) for s in shape],
        "input_dtype": np.dtype(detail["dtype"]).name,
    }
    return interpreter.invoke, info


def time_tflite(
    path: str,
    warmup: int = 100,
    iters: int = 100,
    threads: int | None = None,
    height: int | None = None,
    width: int | None = None,
) -> dict:
    """Time a TFLite file (`tflite_runner`); the timing with the runner's details."""
    run, info = tflite_runner(path, threads, height, width)
    return {**time_calls(run, warmup, iters), **info}


def device_name() -> str:
    """The GPU's name when TensorFlow sees one, else the CPU model."""
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        return "GPU: " + details.get("device_name", gpus[0].name)
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return "CPU: " + line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "CPU: " + (platform.processor() or platform.machine())


def environment() -> dict:
    """Device, versions, thread counts and date to print and store with every timing."""
    try:
        from importlib.metadata import version

        litert = version("ai-edge-litert")
    except Exception:  # not installed: TFLite timing is then unavailable anyway
        litert = None
    return {
        "device": device_name(),
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "ai_edge_litert": litert,
        "platform": platform.platform(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        **thread_counts(),
        **_MALLOC,
    }


def setup_line(warmup: int, iters: int) -> str:
    """One line saying how a table was timed: frames, device, versions and threads."""
    env = environment()
    return (
        f"batch 1, {warmup} warm-up + {iters} timed frames; device: {env['device']}; "
        f"TF {env['tensorflow']}, Keras {env['keras']}, ai-edge-litert "
        f"{env['ai_edge_litert']}, Python {env['python']}; TF threads intra/inter "
        f"{env['intra_op_threads']}/{env['inter_op_threads']} (0 = one per core, "
        f"{env['cpu_cores']} cores)"
    )


def parse_resolution(text: str) -> tuple[int, int]:
    """'1024x2048' -> (1024, 2048)."""
    try:
        height, width = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValueError(
            f"resolution must look like 1024x2048 (HEIGHTxWIDTH), got {text!r}"
        ) from None
    if height < 32 or width < 32:
        raise ValueError(f"resolution must be at least 32x32, got {text!r}")
    return height, width
