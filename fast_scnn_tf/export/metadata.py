"""What travels with every export: a small metadata JSON beside the resolved run config (the
staging folder an export is written into is `fast_scnn_tf.files.staging_dir`)."""

from __future__ import annotations

import datetime

from fast_scnn_tf import __version__
from fast_scnn_tf.config import Config
from fast_scnn_tf.model.layers import IMAGENET_MEAN, IMAGENET_STD

METADATA_FILE = "metadata.json"


def export_metadata(
    config: Config,
    mode: str,
    input_size=None,
    min_size: int | None = None,
    max_pixels: int | None = None,
    **extra,
) -> dict:
    """Class names, palette, input size and normalisation of an export (JSON-serialisable).
    `min_size` and `max_pixels`: the frames an export of any size takes (height and width >=
    min_size, height * width <= max_pixels; larger ones are refused); None for a fixed size."""
    classes = config.class_table()
    return {
        "model": config.model.name,
        "dataset": config.data.dataset,
        # the training protocol: CamVid models train on train or on train + val (trainval)
        "trained_on": {"dataset": config.data.dataset, "split": config.data.train_split},
        "head": mode,
        "num_classes": classes.num_classes,
        "class_names": list(classes.names),
        "palette": [list(c) for c in classes.colors],
        "categories": list(classes.categories),
        "ignore_label": 255,
        "input": {
            "dtype": "uint8",
            "layout": "NHWC RGB 0..255",
            "size": list(input_size) if input_size else None,
            "min_size": min_size,
            "max_pixels": max_pixels,
            # The scale the model was trained for: resize a photo so that its shorter side
            # matches this size's shorter side (aspect kept), predict, resize labels back.
            "model_scale_size": (
                list(config.model.input_size) if min(config.model.input_size) > 0 else None
            ),
            "normalisation": "inside the model: (x - mean) / std",
            "mean": list(IMAGENET_MEAN),
            "std": list(IMAGENET_STD),
        },
        "exported_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "fast_scnn_tf_version": __version__,
        **extra,
    }
