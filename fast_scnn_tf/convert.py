"""Convert official PyTorch FFNet weights into a run folder (the command).

    python -m fast_scnn_tf.convert ffnet --variant ffnet40S_dBBB_mobile \
        --weights ffnet40S_dBBB_cityscapes_state_dict_quarts.pth --model-dir runs/ffnet40S

Reads the `.pth` state dict (needs torch: `pip install -r requirements-torch.txt`; only this
command imports it, training and export never do), maps it onto the Keras FFNet with the family's
key table (`model/ffnet/torch_weights.py`, where the key layout and the checks are described) and
writes a run folder with `checkpoint.write_run`, as train.py's runs are laid out.

`--overwrite` replaces only a run folder this project wrote (`check_own_run_folder`): its
config.json in this project's schema and nothing inside that a run does not hold, so a user's
folder with another tool's config.json beside a checkpoints/ folder is never deleted.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import zipfile
import zlib

import numpy as np

from fast_scnn_tf import cli
from fast_scnn_tf.files import check_replaceable, is_inside, staging_dir

# The most a .pth of FFNet weights may inflate to. The largest variant, ffnet122NS_CCC_mobile,
# holds 32,206,365 numbers in its state dict (parameters and BatchNorm statistics, 19 classes);
# as float64, the widest dtype accepted, they take 258 MB. The margin covers the pickle, the
# record names and a classifier for thousands of classes.
LARGEST_VARIANT, LARGEST_STATE_DICT_VALUES = "ffnet122NS_CCC_mobile", 32_206_365
INFLATED_MARGIN = 16 * 2**20
MAX_INFLATED_BYTES = 8 * LARGEST_STATE_DICT_VALUES + INFLATED_MARGIN  # 274 MB
_PIECE = 2**20  # archive entries are read in pieces of this many bytes


def check_archive(path: str) -> None:
    """Refuse (one-line ValueError) a .pth that is not a zip archive (torch.save's format since
    PyTorch 1.6; the older format declares storage sizes that torch allocates before reading
    them), or whose entries inflate to more than MAX_INFLATED_BYTES. torch.load inflates a
    deflate-compressed entry whole, so the sizes the archive declares are checked before anything
    is inflated, then each entry is inflated in pieces and must give its declared size and CRC."""

    def refuse(reason: str):
        return ValueError(
            f"'{path}' is not a readable PyTorch state dict ({reason}): expected a "
            ".pth file of tensors written by torch.save (PyTorch 1.6 or later)"
        )

    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise refuse(f"not a zip archive: {e}") from None
    with archive:
        entries = archive.infolist()
        declared = sum(entry.file_size for entry in entries)
        if declared > MAX_INFLATED_BYTES:
            raise ValueError(
                f"'{path}' would inflate to {declared / 1e6:.0f} MB, more than the "
                f"{MAX_INFLATED_BYTES / 1e6:.0f} MB the largest FFNet variant's weights take "
                f"({LARGEST_VARIANT}: {LARGEST_STATE_DICT_VALUES / 1e6:.1f} M numbers as "
                "float64, and room for the rest): not an FFNet state dict"
            )
        for entry in entries:
            inflated = 0
            try:
                with archive.open(entry) as f:
                    while piece := f.read(_PIECE):
                        inflated += len(piece)
            except (
                zipfile.BadZipFile,
                RuntimeError,
                NotImplementedError,
                EOFError,
                zlib.error,
            ) as e:  # damaged data, a bad CRC, encryption, another method
                raise refuse(f"entry '{entry.filename}': {e}") from None
            if inflated != entry.file_size:
                raise refuse(
                    f"entry '{entry.filename}' inflates to {inflated} bytes, "
                    f"not the {entry.file_size} it declares"
                )


def load_torch_state_dict(path: str) -> dict[str, np.ndarray]:
    """Read a .pth state dict as numpy arrays: a plain state dict or {"state_dict": ...}, with
    any DataParallel `module.` prefix removed. Needs torch; loads tensors only (weights_only),
    from an archive whose inflated size is bounded first (`check_archive`)."""
    try:
        import torch
    except ImportError as e:
        raise ValueError(
            "reading .pth files needs PyTorch: pip install -r requirements-torch.txt"
        ) from e
    if not os.path.isfile(path):
        raise FileNotFoundError(f"weights file '{path}' does not exist")
    check_archive(path)
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for a file that is not a tensor pickle
        # Not torch's message: for a text file it is ": 101"; for other bytes, advice to load
        # with weights_only=False, which would run code from the file.
        raise ValueError(
            f"'{path}' is not a readable PyTorch state dict ({type(e).__name__}): "
            "expected a .pth file of tensors written by torch.save"
        ) from e
    if isinstance(data, dict) and isinstance(data.get("state_dict"), dict):
        data = data["state_dict"]
    if not isinstance(data, dict):
        raise ValueError(f"'{path}' holds a {type(data).__name__}, not a state dict")
    floats = (torch.float32, torch.float16, torch.bfloat16, torch.float64)
    state_dict = {}
    for key, value in data.items():
        if not isinstance(value, torch.Tensor):
            raise ValueError(f"key '{key}' in '{path}' is a {type(value).__name__}, not a tensor")
        value = value.detach().cpu()
        try:
            # Floating-point weights become float32 here (numpy has no bfloat16); other dtypes
            # (integers, complex) stay as they are, for the converter to refuse by key.
            state_dict[key.removeprefix("module.")] = (
                value.to(torch.float32) if value.dtype in floats else value
            ).numpy()
        except (TypeError, RuntimeError):  # float8, quantised or sparse tensors
            raise ValueError(
                f"key '{key}' in '{path}' is a {value.dtype} tensor ({value.layout}),"
                " which numpy cannot hold: expected float32, float16, bfloat16 or "
                "float64 weights"
            ) from None
    return state_dict


def check_own_run_folder(path: str, flag: str = "--model-dir") -> None:
    """Raise FileExistsError (one line naming `flag`) unless the existing, non-empty folder
    `path` is a run folder this project wrote: a config.json with every section of this project's
    config (`Config.from_dict` accepts it) and nothing a run does not hold (`foreign_entry`).
    What --overwrite may replace: never a folder that merely looks like a run."""
    from fast_scnn_tf.config import CONFIG_FILE, Config
    from fast_scnn_tf.training.run_folder import foreign_entry

    config_path = os.path.join(path, CONFIG_FILE)
    sections = set(Config().to_dict())
    try:
        with open(config_path) as f:
            data = json.load(f)
        if not isinstance(data, dict) or set(data) != sections:
            raise ValueError(f"expected the sections {sorted(sections)}")
        Config.from_dict(data)
    except (OSError, ValueError, TypeError) as e:
        raise FileExistsError(
            f"{flag} '{path}' is not a run folder this project wrote ('{config_path}' is not "
            f"its config.json: {' '.join(str(e).split())}): --overwrite replaces only those; "
            "choose a new or empty folder"
        ) from None
    foreign = foreign_entry(path)
    if foreign:
        raise FileExistsError(
            f"{flag} '{path}' holds '{foreign}', which no run folder of this project holds: "
            "--overwrite would delete it, so it replaces only folders with nothing else inside; "
            "move it out or choose a new or empty folder"
        )


def check_model_dir(model_dir: str, overwrite: bool, weights: str | None = None) -> None:
    """May the converted run be written to `model_dir`? Nothing or an empty folder there, or,
    with `overwrite`, a run folder this project wrote (`check_own_run_folder`) that does not hold
    the `weights` being converted (they would be deleted with it)."""
    check_replaceable(model_dir, "--model-dir", overwrite)
    if weights and os.path.isdir(model_dir) and is_inside(weights, model_dir):
        raise ValueError(
            f"--weights '{weights}' is inside --model-dir '{model_dir}', which is replaced: "
            "move it out first"
        )
    if os.path.isdir(model_dir) and os.listdir(model_dir):
        check_own_run_folder(model_dir)


def write_run_folder(model, variant: str, model_dir: str, overwrite: bool = False) -> str:
    """Write the converted `model` as a run folder (`checkpoint.write_run`: `config.json` and
    `best/ckpt-0`). Written beside `model_dir` under a temporary name and renamed into place, so a
    failure never leaves a half-written folder. An existing `model_dir` is replaced only if it is
    empty or, with `overwrite`, a run folder this project wrote (`check_model_dir`)."""
    import keras

    from fast_scnn_tf.config import Config
    from fast_scnn_tf.model import LOGITS
    from fast_scnn_tf.training.checkpoint import BEST_DIR, write_run

    check_model_dir(model_dir, overwrite)
    with staging_dir(model_dir) as tmp:  # umask permissions; an old folder swapped out whole
        config = Config()
        config.model.name = variant
        config.model.num_classes = int(model.output.shape[-1])
        # Runs store the training model (a dict of outputs), as checkpoint.build_training_model
        # builds it; FFNet's has the logits only. The manager writes the `checkpoint` index with
        # relative paths: the rename keeps it valid.
        training = keras.Model(model.input, {LOGITS: model.output}, name=variant)
        write_run(tmp, config, training, folder=BEST_DIR, number=0)
    return model_dir


def parse_args(argv=None):
    from fast_scnn_tf.model.ffnet import FFNET_VARIANTS

    parser = argparse.ArgumentParser(
        prog="python -m fast_scnn_tf.convert",
        description="Convert official PyTorch weights into a run folder in the layout train.py "
        "writes (config.json + best/ckpt-0).",
    )
    models = parser.add_subparsers(dest="model", required=True, metavar="MODEL")
    ffnet = models.add_parser(
        "ffnet",
        help="FFNet (Qualcomm-AI-research/FFNet state dicts)",
        description="Load an official FFNet state dict (.pth: keys backbone_model.* and "
        "head.*; a {'state_dict': ...} wrapper and a 'module.' prefix are accepted) "
        "into the Keras FFNet and write a run folder. Every tensor must match: a "
        "missing, unexpected or wrongly shaped key is an error. Needs torch "
        "(pip install -r requirements-torch.txt).",
    )
    ffnet.add_argument(
        "--variant",
        required=True,
        choices=sorted(FFNET_VARIANTS),
        metavar="NAME",
        help="official model name without 'segmentation_', "
        "e.g. ffnet40S_dBBB_mobile; one of: " + ", ".join(FFNET_VARIANTS),
    )
    ffnet.add_argument(
        "--weights", required=True, metavar="PTH", help="the PyTorch state dict file (.pth)"
    )
    ffnet.add_argument(
        "--model-dir",
        required=True,
        metavar="DIR",
        help="run folder to write (must not exist or be empty)",
    )
    ffnet.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a --model-dir that holds a run folder this project wrote "
        "(its config.json, checkpoints, logs and metrics, nothing else); never "
        "any other folder",
    )
    return parser.parse_args(argv)


def main(argv=None) -> int:
    cli.import_tensorflow(verbose=False)  # quietly, as every tool; --help's variants load it
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from fast_scnn_tf.model.ffnet.torch_weights import convert_ffnet_state_dict

    try:
        check_model_dir(args.model_dir, args.overwrite, args.weights)  # before the slow part
        state_dict = load_torch_state_dict(args.weights)
        model = convert_ffnet_state_dict(args.variant, state_dict)
        write_run_folder(model, args.variant, args.model_dir, args.overwrite)
    except (FileNotFoundError, FileExistsError, ValueError) as e:
        print(f"convert: error: {e}", file=sys.stderr)
        return 1
    logging.info(
        "wrote %s: %s, %d classes, %d tensors converted",
        args.model_dir,
        args.variant,
        model.output.shape[-1],
        len(state_dict),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
