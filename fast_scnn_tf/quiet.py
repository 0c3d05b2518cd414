"""TensorFlow without its start-up noise: `import_tensorflow` for the command-line tools, and
`native_output_hidden` around the calls whose C++ libraries print (the TFLite converter and
interpreter). A leaf module: the library (export) and the tools (`cli.py`) both use it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile

_verbose = False  # set by import_tensorflow: --verbose shows the native libraries' lines too


def import_tensorflow(verbose: bool = False):
    """Import TensorFlow and initialise its devices, hiding the C++ start-up lines unless
    `verbose`; returns the module.

    TF_CPP_MIN_LOG_LEVEL=2 hides INFO and WARNING lines but not `E0000 ... failed call to cuInit`,
    which every machine without a GPU prints when CUDA is first initialised, nor absl's "All log
    messages before absl::InitializeLog()". Level 3 would also hide real errors for the whole run,
    and CUDA_VISIBLE_DEVICES="" would hide GPUs. So the output file descriptors point at a temp
    file only while TensorFlow is imported and lists its devices (when CUDA initialises), then are
    put back (`native_output_hidden`): GPUs stay usable and later errors are shown. TensorFlow's
    Python INFO lines ("Assets written to ...", "Sharding callback duration: ...") are hidden
    too; the tools log their own progress.
    """
    global _verbose
    _verbose = verbose
    if verbose:
        import tensorflow as tf

        return tf
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with native_output_hidden():
        import tensorflow as tf

        tf.config.list_physical_devices()
    # TensorFlow's Python INFO lines go to two loggers: "tensorflow", and "absl" for the
    # checkpoint writer's "Sharding callback duration: ..." on every save.
    for name in ("tensorflow", "absl"):
        logging.getLogger(name).setLevel(logging.WARNING)
    return tf


@contextlib.contextmanager
def native_output_hidden():
    """Point stdout's and stderr's file descriptors at a temp file for the block, so lines that
    C++ libraries print (TensorFlow's start-up, the TFLite converter's "fully_quantize: ...",
    "Created TensorFlow Lite XNNPACK delegate") do not reach the user; if the block raises, they
    are replayed before the exception. Does nothing after `import_tensorflow(verbose=True)`."""
    if _verbose:
        yield
        return
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 1)
        os.dup2(captured.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved[1], 2)
            captured.seek(0)
            sys.stderr.write(captured.read().decode(errors="replace"))
            raise
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
