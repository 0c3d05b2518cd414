"""What a model family is, and the contract every model it builds meets: written here once and
checked over every registered family by one test (`tests/test_model_families.py`).

The contract of `build_model(name, num_classes, aux, dropout, input_shape)`:
- Input: one RGB image tensor named `image`, values 0..255 (uint8 or float), any height and width
  the family accepts (None sizes: any). Normalisation happens inside the graph.
- Inference model (`aux=False`): one float32 tensor of logits [B, H, W, num_classes] at the input's
  height and width. Its last layer is a `ResizeLike` named `logits` whose first input holds the
  low-resolution logits: the inference head (`head.py`) starts from there, and export (TFLite,
  QAT) finds it by that name.
- Training model (`aux=True`): a dict of float32 logits at the input's size, `logits` plus the
  family's `aux_heads` (none for a family without auxiliary heads); it holds every weight of the
  inference model under the same layer names (checkpoints store the training model).
- A forward pass at odd sizes, one training step, `.keras` save/load and a float TFLite export of
  its head work.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Mapping

LOGITS = "logits"  # the main output: the training dict's key and the inference model's last layer


@dataclasses.dataclass(frozen=True)
class Published:
    """A variant's native input and the accuracy its authors report for it."""

    input_size: tuple[int, int]  # native (height, width) on Cityscapes
    val_miou: float | None  # published Cityscapes val mIoU (%), None when none is published
    source: str = ""  # where the number comes from


@dataclasses.dataclass(frozen=True)
class ForeignWeights:
    """A family's import of its authors' PyTorch weights (`python -m fast_scnn_tf.convert`)."""

    convert: Callable  # (variant, state dict: key -> numpy array) -> the Keras inference model
    source: str  # whose .pth files, in which key layout: the command's --help
    # The variant whose state dict holds the most numbers, and how many: a .pth may inflate to
    # no more than these as float64 (the widest dtype accepted) and a margin.
    largest_variant: str
    largest_values: int


@dataclasses.dataclass(frozen=True)
class Family:
    """One entry of `families.FAMILIES`: how to build the family's variants and what they support.

    `build(name, num_classes, input_shape, dropout, aux)` returns the Keras model of variant
    `name`; a family without auxiliary heads may ignore `aux` (`build_model` then wraps its output
    as `{logits: ...}`) and `dropout`.
    """

    build: Callable
    variants: Mapping[str, Published]  # model name (as `--model` takes it) -> published numbers
    test_variant: str  # the small variant the shared test harness trains, saves and exports
    aux_heads: tuple[str, ...] = ()  # output names of the training model's auxiliary heads
    qat: bool = False  # export.py --qat-steps can fine-tune it (export/qat.py mirrors its layers)
    foreign_weights: ForeignWeights | None = None  # its authors' weights can be converted
