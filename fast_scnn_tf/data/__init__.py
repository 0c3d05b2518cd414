"""Dataset input: folder layouts or tfds, class tables, decoding, the paper's augmentations.

The tables and layouts are plain Python; the tf.data pipeline imports TensorFlow, so its names are
imported when first asked for (the synthetic-scene writer uses the layout without TensorFlow).
Cityscapes' own names (its labels, palette and folder layout) are in `cityscapes_labels` and
`cityscapes_layout`.
"""

_PIPELINE = ("build_dataset", "evaluation_image", "num_frames")
__all__ = [*_PIPELINE]


def __getattr__(name):
    if name in _PIPELINE:
        from fast_scnn_tf.data import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
