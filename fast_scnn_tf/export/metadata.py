"""What travels with every export: the resolved run config and a small metadata JSON, plus the
temp-directory-then-rename helper that keeps a failed export from leaving half-written files."""

from __future__ import annotations

import contextlib
import datetime
import os
import shutil
import tempfile

from fast_scnn_tf import __version__
from fast_scnn_tf.config import Config
from fast_scnn_tf.model.layers import IMAGENET_MEAN, IMAGENET_STD

METADATA_FILE = "metadata.json"


def export_metadata(config: Config, mode: str, input_size=None, **extra) -> dict:
    """Class names, palette, input size and normalisation of an export (JSON-serialisable)."""
    classes = config.class_table()
    return {
        "model": config.model.name,
        "dataset": config.data.dataset,
        "head": mode,
        "num_classes": classes.num_classes,
        "class_names": list(classes.names),
        "palette": [list(c) for c in classes.colors],
        "categories": list(classes.categories),
        "ignore_label": 255,
        "input": {"dtype": "uint8", "layout": "NHWC RGB 0..255",
                  "size": list(input_size) if input_size else None,
                  "normalisation": "inside the model: (x - mean) / std",
                  "mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD)},
        "exported_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "fast_scnn_tf_version": __version__,
        **extra,
    }


@contextlib.contextmanager
def staging_dir(final_path: str):
    """Yield a fresh temp directory beside `final_path`; on success it is renamed to
    `final_path`, on any error it is removed, so `final_path` is never half-written."""
    parent = os.path.dirname(os.path.abspath(final_path))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="." + os.path.basename(final_path) + ".tmp-", dir=parent)
    try:
        yield tmp
        if os.path.isdir(final_path):
            shutil.rmtree(final_path)  # the caller checked --overwrite
        os.replace(tmp, final_path)
    finally:
        if os.path.isdir(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
