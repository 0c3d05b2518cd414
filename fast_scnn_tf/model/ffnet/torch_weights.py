"""The official PyTorch FFNet state dict mapped onto the Keras FFNet's layers.

The state dict is the one of the official repository (github.com/Qualcomm-AI-research/FFNet,
Mehta et al., CVPR-W 2022): keys `backbone_model.*` and `head.layers.{0,1,3}.*`. Every tensor must
map onto exactly one Keras weight and every Keras weight must be given: a missing key, an
unexpected key, a wrong shape, a dtype other than a real float, a value that is not finite (as
float32) or a negative BatchNorm variance is an error naming the key, and nothing is loaded.
Conversion: conv weights (O, I, kh, kw) -> (kh, kw, I, O); BatchNorm weight, bias, running_mean,
running_var -> gamma, beta, moving_mean, moving_variance. The layer names of the FFNet modules
mirror the official module paths, so the table below stays short. Works on numpy arrays: reading a
`.pth` file (with torch) is the converter's part (`python -m fast_scnn_tf.convert`).
"""

from __future__ import annotations

import re

import keras
import numpy as np

from fast_scnn_tf.model.ffnet.ffnet import build_ffnet

CLASSIFIER_KEY = "head.layers.3.last_layer.3.weight"
# Released mobile BCC/CCC weights were trained with input pre-downsampling and carry its fixed
# Gaussian kernel (a buffer, not a parameter); the variants here do not use it.
SMOOTHING_KEY = "smoothing.weight"
SMOOTHING_SHAPE = (3, 1, 5, 5)
IGNORED_SUFFIX = ".num_batches_tracked"  # BatchNorm's step counter: nothing to load

# Keras layer name -> official module path (the parameter names follow per layer type).
_TORCH_MODULES = [
    (r"stem_(conv|bn)(\d)", r"backbone_model.\1\2"),
    (r"stage(\d+)_block(\d+)_(conv|bn)(\d)", r"backbone_model.layer\1.\2.\3\4"),
    (r"stage(\d+)_block(\d+)_shortcut_conv", r"backbone_model.layer\1.\2.downsample.0"),
    (r"stage(\d+)_block(\d+)_shortcut_bn", r"backbone_model.layer\1.\2.downsample.1"),
    (r"head_adapter(\d)_conv", r"head.layers.0.adapter_conv.\1.layers.0"),
    (r"head_adapter(\d)_bn", r"head.layers.0.adapter_conv.\1.layers.1"),
    (r"seg_conv", "head.layers.3.last_layer.0"),
    (r"seg_bn", "head.layers.3.last_layer.1"),
    (r"seg_classifier", "head.layers.3.last_layer.3"),
]
_BRANCH = re.compile(r"head_branch(\d)_(smooth|up)_(conv|bn)")
_BN_PARAMS = ("weight", "bias", "running_mean", "running_var")


def torch_module(layer_name: str) -> str:
    """The official module path of a Keras FFNet layer, e.g. `stage1_block0_conv1` ->
    `backbone_model.layer1.0.conv1`."""
    m = _BRANCH.fullmatch(layer_name)
    if m:  # up-branch level k works at 1/(4 * 2^k) of the finest level: fam_4 .. fam_32
        level, part, kind = int(m[1]), m[2], m[3]
        module = "fam_4" if level == 0 else f"fam_{4 << level}_{'sm' if part == 'smooth' else 'up'}"
        return f"head.layers.1.{module}.layers.{0 if kind == 'conv' else 1}"
    for pattern, template in _TORCH_MODULES:
        if re.fullmatch(pattern, layer_name):
            return re.sub(pattern, template, layer_name)
    raise ValueError(f"no official FFNet module for Keras layer '{layer_name}'")


def _expected_tensors(model):
    """[(layer, [(state-dict key, expected torch shape), ...])] for every layer with weights,
    in the order `layer.set_weights` takes them."""
    table = []
    for layer in model.layers:
        if not layer.weights:
            continue
        prefix = torch_module(layer.name)
        if isinstance(layer, keras.layers.Conv2D):
            kh, kw, cin, cout = layer.kernel.shape
            entries = [(prefix + ".weight", (cout, cin, kh, kw))]
            if layer.use_bias:
                entries.append((prefix + ".bias", (cout,)))
        elif isinstance(layer, keras.layers.BatchNormalization):
            entries = [(f"{prefix}.{p}", tuple(layer.gamma.shape)) for p in _BN_PARAMS]
        else:
            raise ValueError(
                f"cannot convert weights of layer '{layer.name}' ({type(layer).__name__})"
            )
        table.append((layer, entries))
    return table


def _num_classes(state_dict, num_classes):
    if CLASSIFIER_KEY not in state_dict:
        raise ValueError(
            f"missing key '{CLASSIFIER_KEY}' (the classifier weight): not an "
            "official FFNet segmentation state dict"
        )
    shape = tuple(np.shape(state_dict[CLASSIFIER_KEY]))
    if len(shape) != 4 or shape[0] < 1:
        raise ValueError(
            f"key '{CLASSIFIER_KEY}' has shape {shape}, expected a classifier "
            "convolution's (classes, channels, height, width)"
        )
    found = shape[0]
    if num_classes is not None and num_classes != found:
        raise ValueError(
            f"key '{CLASSIFIER_KEY}' has {found} classes, but num_classes="
            f"{num_classes} was asked for"
        )
    return found


def convert_ffnet_state_dict(
    variant: str,
    state_dict,
    num_classes: int | None = None,
    input_shape=(None, None, 3),
    resize_to_input: bool = True,
):
    """Build `variant` and load an official-layout state dict (name -> numpy array) into it.

    The class count comes from the classifier weight (`num_classes`, if given, must agree).
    Raises ValueError naming the first missing key, unexpected key or mismatched shape; every
    check runs before any weight is set. Returns the Keras model (see `build_ffnet`).
    """
    model = build_ffnet(
        variant, _num_classes(state_dict, num_classes), input_shape, resize_to_input
    )
    table = _expected_tensors(model)

    expected = {key: shape for _, entries in table for key, shape in entries}
    given = {key for key in state_dict if not key.endswith(IGNORED_SUFFIX)}
    if SMOOTHING_KEY in given:
        shape = tuple(np.shape(state_dict[SMOOTHING_KEY]))
        if shape != SMOOTHING_SHAPE:
            raise ValueError(
                f"key '{SMOOTHING_KEY}' has shape {shape}, expected the "
                f"{SMOOTHING_SHAPE} pre-downsampling kernel"
            )
        given.discard(SMOOTHING_KEY)
    missing = [key for key in expected if key not in given]
    if missing:
        raise ValueError(
            f"missing key '{missing[0]}' for {variant}"
            + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
        )
    unexpected = sorted(given - set(expected))
    if unexpected:
        raise ValueError(
            f"unexpected key '{unexpected[0]}' for {variant}"
            + (f" (and {len(unexpected) - 1} more)" if len(unexpected) > 1 else "")
        )
    for key, shape in expected.items():
        if tuple(np.shape(state_dict[key])) != shape:
            raise ValueError(
                f"key '{key}' has shape {tuple(np.shape(state_dict[key]))}, "
                f"{variant} expects {shape}"
            )
    for key in expected:
        _check_dtype(key, np.asarray(state_dict[key]))
    with np.errstate(over="ignore"):  # a float64 beyond float32's range: named just below
        weights = {key: np.asarray(state_dict[key], dtype=np.float32) for key in expected}
    for key, value in weights.items():
        _check_values(key, value)

    for layer, entries in table:
        values = [weights[key] for key, _ in entries]
        if len(values[0].shape) == 4:  # conv weight OIHW -> HWIO
            values[0] = values[0].transpose(2, 3, 1, 0)
        layer.set_weights(values)
    return model


def _check_values(key: str, value: np.ndarray) -> None:
    """Weights (as float32) are finite and BatchNorm variances not negative: a NaN or a negative
    variance converts, and the model then predicts one class everywhere."""
    bad = ~np.isfinite(value)
    if bad.any():
        raise ValueError(
            f"key '{key}' holds {int(bad.sum())} values that are not finite as "
            f"float32 (first {value.flat[int(np.argmax(bad))]} at index "
            f"{int(np.argmax(bad))}): expected finite weights"
        )
    if key.endswith(".running_var") and (value < 0).any():
        raise ValueError(
            f"key '{key}' holds negative variances (smallest {value.min()}): "
            "expected BatchNorm running variances >= 0"
        )


def _check_dtype(key: str, value: np.ndarray) -> None:
    """Weights are real floating-point numbers: an integer tensor would convert (truncated by
    the training that made it, or not weights at all) and a complex one lose its imaginary part,
    silently."""
    if value.dtype.kind != "f":
        raise ValueError(
            f"key '{key}' holds {value.dtype.name} values: expected floating-point "
            "weights (float32, float16, bfloat16 or float64)"
        )
