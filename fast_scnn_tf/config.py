"""One configuration for a run, as nested dataclasses whose defaults are the paper's values.

The resolved config is written as `config.json` beside every checkpoint and export
(`Config.save` / `Config.load`), so a run can be reproduced from its output folder.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from typing import Any

from fast_scnn_tf.data import datasets
from fast_scnn_tf.data.config import SOURCES, DataConfig
from fast_scnn_tf.files import write_json

CONFIG_FILE = "config.json"
DATASETS = tuple(datasets.DATASETS)  # DataConfig.dataset: the table of fast_scnn_tf.data.datasets
# TrainConfig.class_weighting: the constant c of 1 / ln(c + class share) per scheme
CLASS_WEIGHTINGS = {"none": None, "enet": 1.02, "erfnet": 1.10}
OPTIMIZERS = ("sgd", "adam")  # TrainConfig.optimizer
STRATEGIES = ("auto", "default", "mirrored", "multiworker")  # TrainConfig.strategy
WHICH = ("best", "latest")  # the checkpoint of a run folder that a tool loads (--which)
MIN_CROP = 32  # the network downsamples 32x: smaller crops leave no global context


def _typed(name: str, value, default):
    """`value` as the type of the field's `default` (a JSON list becomes a tuple, an integer a
    float where a number is expected); a value of another type is a one-line ValueError, so a
    hand-edited config.json fails on load, not later with a traceback."""

    def wrong(rule):
        return ValueError(f"{name} must be {rule}, got {value!r}")

    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise wrong("true or false")
    elif isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise wrong("an integer")
    elif isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise wrong("a number")
        if not math.isfinite(value):  # JSON's NaN and Infinity: comparisons let NaN through
            raise wrong("a finite number")
        return float(value)
    elif isinstance(default, str):
        if not isinstance(value, str):
            raise wrong("a string")
    elif isinstance(default, tuple):
        if (
            not isinstance(value, (list, tuple))
            or len(value) != len(default)
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        ):
            raise wrong(f"a list of {len(default)} integers")
        return tuple(value)
    elif isinstance(default, dict) and not isinstance(value, dict):
        raise wrong("an object")
    return value


class ConfigError(ValueError):
    """A config value breaks a rule; `section`/`field` say which, so a command line can name its
    flag (`message_for("--batch-size")`)."""

    def __init__(self, section: str, field: str, rule: str, value):
        self.section, self.field, self.rule, self.value = section, field, rule, value
        super().__init__(self.message_for(f"{section}.{field}"))

    def message_for(self, name: str) -> str:
        return f"{name} must be {self.rule}, got {self.value!r}"


@dataclasses.dataclass
class ModelConfig:
    name: str = "fast_scnn"  # a model of fast_scnn_tf.model.families.MODEL_NAMES
    num_classes: int = 19  # set from the dataset's class table when a run starts
    # The class table the model was trained with (fast_scnn_tf.data.classes.ClassTable.to_dict);
    # empty: Cityscapes' 19 classes (runs written before datasets had tables).
    classes: dict = dataclasses.field(default_factory=dict)
    # The paper puts dropout "only just before the last layer" without a rate; 0.1 as PyTorch ports.
    dropout: float = 0.1
    # The frame size (height, width) the model was trained to see: the training frames' size
    # times data.input_scale, set when a run starts. predict.py resizes a photo to this scale
    # (`scale_for`); (0, 0): not known (runs written before it was recorded).
    input_size: tuple[int, int] = (0, 0)


@dataclasses.dataclass
class TrainConfig:
    """The paper's recipe (§4.1); `preset="mmseg"` swaps in mmsegmentation's (see
    fast_scnn_tf.training.presets). The loss convention is in fast_scnn_tf.training.losses."""

    preset: str = "paper"  # "paper", "mmseg" or "camvid": which recipe the defaults came from
    epochs: int = 1000  # passes over the training frames (Cityscapes fine train: 2,975)
    total_steps: int = 0  # > 0 overrides epochs (the mmseg preset counts iterations)
    batch_size: int = 12  # global batch, split over all replicas
    optimizer: str = "sgd"  # sgd (the paper: momentum below) or adam (beta 0.9/0.999, eps 1e-7)
    learning_rate: float = 0.045  # base rate of the poly schedule
    end_learning_rate: float = 0.0  # where poly ends (mmseg keeps a floor of 1e-4)
    lr_power: float = 0.9
    # Steps of linear warm-up from learning_rate/3 before poly (DABNet's 500 on CamVid); 0: none.
    warmup_steps: int = 0
    momentum: float = 0.9
    weight_decay: float = 4e-5  # L2 on every kernel except depthwise ones
    # L2 on every trainable parameter (depthwise kernels, BatchNorm gamma/beta, biases too), as
    # mmsegmentation's SGD weight_decay does; the paper (as MobileNet) spares them.
    decay_all_parameters: bool = False
    aux_weight: float = 0.4  # weight of each auxiliary loss (LtD and GFE heads)
    mixed_precision: bool = False  # mixed_float16 with dynamic loss scaling
    xla: bool = False  # jit_compile the train step (slower on CPU; try it on GPUs)
    strategy: str = "auto"  # auto | default | mirrored | multiworker
    seed: int = 0  # weights, dropout and the data order/augmentation all follow it
    checkpoint_every_steps: int = 500  # a SIGKILL loses at most this many steps
    keep_checkpoints: int = 3
    eval_every_epochs: int = 10  # validation mIoU (and the best/ checkpoint); also at the end
    log_every_steps: int = 50  # TensorBoard scalars
    init_checkpoint: str = ""  # start from these weights (a model dir or checkpoint prefix)
    # "none", "enet" or "erfnet": weight each class's pixels by 1 / ln(c + its share of the
    # training pixels), c = 1.02 (ENet, Paszke et al. 2016; up to ~50x) or 1.10 (ERFNet, and
    # ESPNet/CGNet/DABNet on CamVid; up to ~10x), so rare classes (poles, signs, cyclists) count
    # more.
    class_weighting: str = "none"


@dataclasses.dataclass
class Config:
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)

    def class_table(self):
        """The model's ClassTable: the one saved with the run; without one, Cityscapes' for 19
        classes and `class_0`, `class_1`, ... otherwise."""
        from fast_scnn_tf.data.cityscapes_labels import CLASSES
        from fast_scnn_tf.data.classes import ClassTable, default_colors

        n = self.model.num_classes
        if self.model.classes:
            table = ClassTable.from_dict(self.model.classes)
        elif n == CLASSES.num_classes:
            table = CLASSES
        else:
            table = ClassTable(tuple(f"class_{i}" for i in range(n)), default_colors(n))
        if table.num_classes != self.model.num_classes:
            raise ValueError(
                f"config has num_classes {self.model.num_classes} but a class table "
                f"of {table.num_classes} classes"
            )
        return table

    def scale_for(self, image_size) -> float:
        """The factor that brings an image of `image_size` (height, width) to the scale the model
        was trained for: its shorter side onto the shorter side of `model.input_size` (aspect
        kept; for a landscape photo, its height onto the training frames' height). 1 when the
        model's size is not known."""
        if min(self.model.input_size) <= 0:
            return 1.0
        return min(self.model.input_size) / min(image_size)

    def validate(self) -> "Config":
        """Raise ConfigError for the first value a run cannot use; returns self."""
        from fast_scnn_tf.model.families import MODEL_NAMES  # imports Keras: only when validating

        d, t = self.data, self.train
        # NaN fails every comparison below, so a rule written as a comparison would pass it or
        # name the wrong rule: every float is checked for being finite first.
        finite = [
            (name, field.name, math.isfinite(getattr(part, field.name)), "a finite number")
            for name in ("model", "data", "train")
            for part in [getattr(self, name)]
            for field in dataclasses.fields(part)
            if isinstance(getattr(part, field.name), float)
        ]
        rules = finite + [
            (
                "model",
                "name",
                self.model.name in MODEL_NAMES,
                f"a model of fast_scnn_tf.model.families ({', '.join(MODEL_NAMES)})",
            ),
            ("data", "dataset", d.dataset in DATASETS, f"one of {', '.join(DATASETS)}"),
            ("data", "source", d.source in SOURCES, f"one of {', '.join(SOURCES)}"),
            (
                "data",
                "crop_size",
                len(d.crop_size) == 2 and min(d.crop_size) >= MIN_CROP,
                f"two sizes of at least {MIN_CROP}",
            ),
            ("data", "min_scale", 0 < d.min_scale <= d.max_scale, "> 0 and <= data.max_scale"),
            ("data", "input_scale", 0 < d.input_scale <= 4, "> 0 and <= 4"),
            ("model", "dropout", 0 <= self.model.dropout < 1, ">= 0 and < 1"),
            ("train", "batch_size", t.batch_size >= 1, ">= 1"),
            (
                "train",
                "epochs",
                t.total_steps > 0 or t.epochs >= 1,
                ">= 1 (or train.total_steps >= 1)",
            ),
            ("train", "total_steps", t.total_steps >= 0, ">= 0"),
            ("train", "optimizer", t.optimizer in OPTIMIZERS, f"one of {', '.join(OPTIMIZERS)}"),
            ("train", "learning_rate", t.learning_rate > 0, "> 0"),
            (
                "train",
                "end_learning_rate",
                0 <= t.end_learning_rate <= t.learning_rate,
                ">= 0 and <= train.learning_rate",
            ),
            ("train", "weight_decay", t.weight_decay >= 0, ">= 0"),
            ("train", "warmup_steps", t.warmup_steps >= 0, ">= 0"),
            ("train", "aux_weight", t.aux_weight >= 0, ">= 0"),
            ("train", "strategy", t.strategy in STRATEGIES, f"one of {', '.join(STRATEGIES)}"),
            ("train", "checkpoint_every_steps", t.checkpoint_every_steps >= 1, ">= 1"),
            ("train", "keep_checkpoints", t.keep_checkpoints >= 1, ">= 1"),
            ("train", "eval_every_epochs", t.eval_every_epochs >= 0, ">= 0 (0: at the end)"),
            ("train", "log_every_steps", t.log_every_steps >= 1, ">= 1"),
            (
                "train",
                "class_weighting",
                t.class_weighting in CLASS_WEIGHTINGS,
                f"one of {', '.join(CLASS_WEIGHTINGS)}",
            ),
        ]
        for section, field, ok, rule in rules:
            if not ok:
                raise ConfigError(section, field, rule, getattr(getattr(self, section), field))
        return self

    def override(self, section: str, field: str, value) -> "Config":
        """A copy with `section.field` set to `value` (lists become tuples where the default is
        one); an unknown section or field is a ConfigError."""
        part = getattr(self, section, None)
        if not dataclasses.is_dataclass(part) or field not in {
            f.name for f in dataclasses.fields(part)
        }:
            raise ConfigError(section, field, "a known config field", value)
        if isinstance(getattr(part, field), tuple):
            value = tuple(value)
        return dataclasses.replace(self, **{section: dataclasses.replace(part, **{field: value})})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Config":
        """Build from a (possibly partial) dict; unknown keys are an error, not silently dropped."""
        names = [field.name for field in dataclasses.fields(cls)]
        if not isinstance(d, dict):
            raise ValueError(
                f"expected a JSON object with the sections {names}, got {type(d).__name__}"
            )
        sections = {}
        for field in dataclasses.fields(cls):
            section_cls = field.default_factory
            values = d.get(field.name, {})
            if not isinstance(values, dict):
                raise ValueError(
                    f"config section '{field.name}' must be an object, got {type(values).__name__}"
                )
            values = dict(values)
            if field.name == "data" and values.get("dataset") in datasets.RENAMED:
                values["dataset"] = datasets.RENAMED[values["dataset"]]
            known = {f.name: f for f in dataclasses.fields(section_cls)}
            unknown = set(values) - set(known)
            if unknown:
                raise ValueError(f"unknown config keys in '{field.name}': {sorted(unknown)}")
            defaults = section_cls()
            for key, value in values.items():
                values[key] = _typed(f"{field.name}.{key}", value, getattr(defaults, key))
            sections[field.name] = section_cls(**values)
        unknown = set(d) - set(sections)
        if unknown:
            raise ValueError(f"unknown config sections: {sorted(unknown)}")
        return cls(**sections)

    def save(self, directory: str) -> str:
        """Write config.json into `directory` atomically (temp file + rename)."""
        os.makedirs(directory, exist_ok=True)
        path = os.path.join(directory, CONFIG_FILE)
        write_json(path, self.to_dict())
        return path

    @classmethod
    def load(cls, directory: str) -> "Config":
        """Read `directory`/config.json; a syntax error or an unknown key names the file."""
        path = os.path.join(directory, CONFIG_FILE)
        if not os.path.isfile(path):
            raise FileNotFoundError(
                f"no {CONFIG_FILE} in '{directory}': expected a model directory written by train.py"
            )
        try:
            with open(path) as f:
                return cls.from_dict(json.load(f))
        except json.JSONDecodeError as e:
            raise ValueError(f"'{path}' is not valid JSON: {e}") from None
        except (TypeError, ValueError) as e:  # unknown keys, wrong types
            raise ValueError(f"'{path}': {e}") from None
