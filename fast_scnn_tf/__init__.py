"""fast-scnn-tf: Fast-SCNN (Poudel et al., BMVC 2019), and FFNet beside it, in TensorFlow/Keras."""

__version__ = "0.1.0"
_MODEL_EXPORTS = ("FastSCNN", "build_fast_scnn", "build_model", "inference_model")


def __getattr__(name):
    """`fast_scnn_tf.build_model` etc., imported on first use: importing the package (as
    the scripts do for `fast_scnn_tf.cli` before parsing --verbose) must not start TensorFlow."""
    if name in _MODEL_EXPORTS:
        from fast_scnn_tf import model

        return getattr(model, name)
    raise AttributeError(f"module 'fast_scnn_tf' has no attribute {name!r}")
