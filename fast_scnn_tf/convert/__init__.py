"""Convert a family's official PyTorch weights into a run folder (the command).

    python -m fast_scnn_tf.convert ffnet --variant ffnet40S_dBBB_mobile \
        --weights ffnet40S_dBBB_cityscapes_state_dict_quarts.pth --model-dir runs/ffnet40S

One subcommand per model family whose table entry declares `foreign_weights` (FFNet today):
the `.pth` is read as untrusted data (`pth.py`; needs torch: `pip install -r
requirements-torch.txt`; only this command imports it, training and export never do), the
family's converter maps it onto its Keras model (FFNet's key table: `model/ffnet/torch_weights.py`)
and the run folder is written with `checkpoint.write_run`, as train.py's runs are laid out.

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

from fast_scnn_tf import cli
from fast_scnn_tf.files import check_replaceable, is_inside, staging_dir


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
        # builds it; a converted model has its logits only (no auxiliary heads). The manager
        # writes the `checkpoint` index with relative paths: the rename keeps it valid.
        training = keras.Model(model.input, {LOGITS: model.output}, name=variant)
        write_run(tmp, config, training, folder=BEST_DIR, number=0)
    return model_dir


def convertible_families() -> dict:
    """{family key: Family} for every family whose weights can be converted."""
    from fast_scnn_tf.model.families import FAMILIES

    return {key: family for key, family in FAMILIES.items() if family.foreign_weights}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m fast_scnn_tf.convert",
        description="Convert official PyTorch weights into a run folder in the layout train.py "
        "writes (config.json + best/ckpt-0).",
    )
    models = parser.add_subparsers(dest="family", required=True, metavar="FAMILY")
    for key, family in convertible_families().items():
        variants = list(family.variants)
        command = models.add_parser(
            key,
            help=family.foreign_weights.source,
            description=f"Load one of the {family.foreign_weights.source} into the Keras "
            "model and write a run folder. Every tensor must match: a missing, unexpected or "
            "wrongly shaped key is an error. Needs torch (pip install -r "
            "requirements-torch.txt).",
        )
        command.add_argument(
            "--variant",
            required=True,
            choices=variants,
            metavar="NAME",
            help=f"the model name, e.g. {variants[0]}; one of: {', '.join(variants)}",
        )
        command.add_argument(
            "--weights", required=True, metavar="PTH", help="the PyTorch state dict file (.pth)"
        )
        command.add_argument(
            "--model-dir",
            required=True,
            metavar="DIR",
            help="run folder to write (must not exist or be empty)",
        )
        command.add_argument(
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
    from fast_scnn_tf.convert.pth import load_torch_state_dict

    weights = convertible_families()[args.family].foreign_weights
    try:
        check_model_dir(args.model_dir, args.overwrite, args.weights)  # before the slow part
        state_dict = load_torch_state_dict(args.weights, weights, args.family)
        model = weights.convert(args.variant, state_dict)
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
