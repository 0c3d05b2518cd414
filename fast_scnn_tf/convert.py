"""Convert official PyTorch FFNet weights into a Keras model and a run folder.

    python -m fast_scnn_tf.convert ffnet --variant ffnet40S_dBBB_mobile \
        --weights ffnet40S_dBBB_cityscapes_state_dict_quarts.pth --model-dir runs/ffnet40S

The state dict is the one of the official repository (github.com/Qualcomm-AI-research/FFNet,
Mehta et al., CVPR-W 2022): keys `backbone_model.*` and `head.layers.{0,1,3}.*`. Every tensor must
map onto exactly one Keras weight and every Keras weight must be given: a missing key, an
unexpected key or a wrong shape is an error naming the key, and nothing is loaded.
Conversion: conv weights (O, I, kh, kw) -> (kh, kw, I, O); BatchNorm weight, bias, running_mean,
running_var -> gamma, beta, moving_mean, moving_variance. Only this module needs torch, and only
to read .pth files (`pip install -r requirements-torch.txt`); training and export never import it.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys

import numpy as np

from fast_scnn_tf import cli
from fast_scnn_tf.files import staging_dir

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
_CONV_PARAMS = ("weight", "bias")
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
    import keras
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
            raise ValueError(f"cannot convert weights of layer '{layer.name}' "
                             f"({type(layer).__name__})")
        table.append((layer, entries))
    return table


def _num_classes(state_dict, num_classes):
    if CLASSIFIER_KEY not in state_dict:
        raise ValueError(f"missing key '{CLASSIFIER_KEY}' (the classifier weight): not an "
                         "official FFNet segmentation state dict")
    found = int(np.shape(state_dict[CLASSIFIER_KEY])[0])
    if num_classes is not None and num_classes != found:
        raise ValueError(f"key '{CLASSIFIER_KEY}' has {found} classes, but num_classes="
                         f"{num_classes} was asked for")
    return found


def convert_ffnet_state_dict(variant: str, state_dict, num_classes: int | None = None,
                             input_shape=(None, None, 3), resize_to_input: bool = True):
    """Build `variant` and load an official-layout state dict (name -> numpy array) into it.

    The class count comes from the classifier weight (`num_classes`, if given, must agree).
    Raises ValueError naming the first missing key, unexpected key or mismatched shape; every
    check runs before any weight is set. Returns the Keras model (see `build_ffnet`).
    """
    from fast_scnn_tf.model.ffnet import build_ffnet
    model = build_ffnet(variant, _num_classes(state_dict, num_classes), input_shape,
                        resize_to_input)
    table = _expected_tensors(model)

    expected = {key: shape for _, entries in table for key, shape in entries}
    given = {key for key in state_dict if not key.endswith(IGNORED_SUFFIX)}
    if SMOOTHING_KEY in given:
        shape = tuple(np.shape(state_dict[SMOOTHING_KEY]))
        if shape != SMOOTHING_SHAPE:
            raise ValueError(f"key '{SMOOTHING_KEY}' has shape {shape}, expected the "
                             f"{SMOOTHING_SHAPE} pre-downsampling kernel")
        given.discard(SMOOTHING_KEY)
    missing = [key for key in expected if key not in given]
    if missing:
        raise ValueError(f"missing key '{missing[0]}' for {variant}"
                         + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))
    unexpected = sorted(given - set(expected))
    if unexpected:
        raise ValueError(f"unexpected key '{unexpected[0]}' for {variant}"
                         + (f" (and {len(unexpected) - 1} more)" if len(unexpected) > 1 else ""))
    for key, shape in expected.items():
        if tuple(np.shape(state_dict[key])) != shape:
            raise ValueError(f"key '{key}' has shape {tuple(np.shape(state_dict[key]))}, "
                             f"{variant} expects {shape}")

    for layer, entries in table:
        values = [np.asarray(state_dict[key], dtype=np.float32) for key, _ in entries]
        if len(values[0].shape) == 4:  # conv weight OIHW -> HWIO
            values[0] = values[0].transpose(2, 3, 1, 0)
        layer.set_weights(values)
    return model


def load_torch_state_dict(path: str) -> dict[str, np.ndarray]:
    """Read a .pth state dict as numpy arrays: a plain state dict or {"state_dict": ...}, with
    any DataParallel `module.` prefix removed. Needs torch; loads tensors only (weights_only)."""
    try:
        import torch
    except ImportError as e:
        raise ValueError("reading .pth files needs PyTorch: pip install -r requirements-torch.txt"
                         ) from e
    if not os.path.isfile(path):
        raise FileNotFoundError(f"weights file '{path}' does not exist")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for a file that is not a tensor pickle
        # Not torch's message: for a text file it is ": 101"; for other bytes, advice to load
        # with weights_only=False, which would run code from the file.
        raise ValueError(f"'{path}' is not a readable PyTorch state dict ({type(e).__name__}): "
                         "expected a .pth file of tensors written by torch.save") from e
    if isinstance(data, dict) and isinstance(data.get("state_dict"), dict):
        data = data["state_dict"]
    if not isinstance(data, dict):
        raise ValueError(f"'{path}' holds a {type(data).__name__}, not a state dict")
    state_dict = {}
    for key, value in data.items():
        if not isinstance(value, torch.Tensor):
            raise ValueError(f"key '{key}' in '{path}' is a {type(value).__name__}, not a tensor")
        state_dict[key.removeprefix("module.")] = value.detach().cpu().numpy()
    return state_dict


def write_run_folder(model, variant: str, model_dir: str, overwrite: bool = False) -> str:
    """Write `config.json` and `best/ckpt-0` (with its `checkpoint` index) as a model directory
    that `fast_scnn_tf.checkpoint.find_checkpoint` resolves. Written beside `model_dir` under a
    temporary name and renamed into place, so a failure never leaves a half-written folder. An
    existing `model_dir` is replaced only if it is empty or, with `overwrite`, a run folder
    (`cli.check_replaceable`)."""
    import keras
    import tensorflow as tf
    from fast_scnn_tf.checkpoint import BEST_DIR, make_checkpoint
    from fast_scnn_tf.config import Config
    from fast_scnn_tf.model import LOGITS

    cli.check_replaceable(model_dir, "--model-dir", overwrite)
    with staging_dir(model_dir) as tmp:  # umask permissions; an old folder swapped out whole
        config = Config()
        config.model.name = variant
        config.model.num_classes = int(model.output.shape[-1])
        config.save(tmp)
        # The manager writes the `checkpoint` index with relative paths: the rename keeps it valid.
        # Runs store the training model (a dict of outputs), as checkpoint.build_training_model
        # builds it; FFNet's has the logits only.
        training = keras.Model(model.input, {LOGITS: model.output}, name=variant)
        tf.train.CheckpointManager(make_checkpoint(training), os.path.join(tmp, BEST_DIR),
                                   max_to_keep=1).save(checkpoint_number=0)
    return model_dir


def parse_args(argv=None):
    from fast_scnn_tf.model.ffnet import FFNET_VARIANTS
    parser = argparse.ArgumentParser(
        prog="python -m fast_scnn_tf.convert",
        description="Convert official PyTorch weights into a run folder in the layout train.py "
                    "writes (config.json + best/ckpt-0).")
    models = parser.add_subparsers(dest="model", required=True, metavar="MODEL")
    ffnet = models.add_parser(
        "ffnet", help="FFNet (Qualcomm-AI-research/FFNet state dicts)",
        description="Load an official FFNet state dict (.pth: keys backbone_model.* and "
                    "head.*; a {'state_dict': ...} wrapper and a 'module.' prefix are accepted) "
                    "into the Keras FFNet and write a run folder. Every tensor must match: a "
                    "missing, unexpected or wrongly shaped key is an error. Needs torch "
                    "(pip install -r requirements-torch.txt).")
    ffnet.add_argument("--variant", required=True, choices=sorted(FFNET_VARIANTS),
                       metavar="NAME", help="official model name without 'segmentation_', "
                       "e.g. ffnet40S_dBBB_mobile; one of: " + ", ".join(FFNET_VARIANTS))
    ffnet.add_argument("--weights", required=True, metavar="PTH",
                       help="the PyTorch state dict file (.pth)")
    ffnet.add_argument("--model-dir", required=True, metavar="DIR",
                       help="run folder to write (must not exist or be empty)")
    ffnet.add_argument("--overwrite", action="store_true",
                       help="replace a --model-dir that holds a run folder (config.json with "
                       "best/ or checkpoints/); never any other folder")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    cli.import_tensorflow(verbose=False)  # quietly, as every tool; --help's variants load it
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        # Before the slow part; the weights would be deleted with the folder they are read from.
        cli.check_replaceable(args.model_dir, "--model-dir", args.overwrite)
        if os.path.exists(args.model_dir) and cli.is_inside(args.weights, args.model_dir):
            raise ValueError(f"--weights '{args.weights}' is inside --model-dir "
                             f"'{args.model_dir}', which is replaced: move it out first")
        state_dict = load_torch_state_dict(args.weights)
        model = convert_ffnet_state_dict(args.variant, state_dict)
        write_run_folder(model, args.variant, args.model_dir, args.overwrite)
    except (FileNotFoundError, FileExistsError, ValueError) as e:
        print(f"convert: error: {e}", file=sys.stderr)
        return 1
    logging.info("wrote %s: %s, %d classes, %d tensors converted", args.model_dir, args.variant,
                 model.output.shape[-1], len(state_dict))
    return 0


if __name__ == "__main__":
    sys.exit(main())
