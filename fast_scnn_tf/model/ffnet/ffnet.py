"""FFNet (Mehta, Zhang, Hu et al., "Simple and Efficient Architectures for Semantic Segmentation",
Qualcomm AI Research, CVPR-W 2022) as a Keras functional graph, and the table of its variants.

    image 0..255 -> Normalize -> backbone (stem + ResNet basic-block stages: 4 features)
        -> up-head (adapters, top-down fusion, resize + concat at the finest level)
        -> segmentation head (logits at 1/4, or 1/8 for `d` variants) [-> bilinear to input]

A variant is named as the official factory without `segmentation_`:
`ffnet<backbone>_<d?><stem><up-head><seg-head>[_mobile]`, e.g. `ffnet40S_dBBB_mobile`.
Structure, widths and the published numbers come from the paper and the official repository
github.com/Qualcomm-AI-research/FFNet (BSD-3-Clause-Clear); the code here is our own.

Input sizes: any size works, static or dynamic, odd or not. Every stride-2 layer gives ceil(L/2)
as PyTorch's padded convs do, each up-head resize targets the next level's exact size, and the
resizes reproduce PyTorch's for every ratio, so converted weights match PyTorch at any size.
"""

from __future__ import annotations

import dataclasses
import re

import keras

from fast_scnn_tf.model.contract import LOGITS
from fast_scnn_tf.model.ffnet.backbones import BACKBONES, backbone
from fast_scnn_tf.model.ffnet.seg_heads import SEG_HEADS, segmentation_head
from fast_scnn_tf.model.ffnet.up_heads import UP_HEADS, up_head
from fast_scnn_tf.model.layers import BILINEAR_ALIGN_CORNERS, NEAREST, Normalize, ResizeLike


@dataclasses.dataclass(frozen=True)
class FFNetVariant:
    """One published FFNet: its parts, and the numbers the paper reports for it."""

    backbone: str  # key of BACKBONES, e.g. "40S"
    deep_stride: bool  # the `d`: stride 2 in the first stage too, logits at 1/8
    stem: str  # "A" | "B" | "C" (fixed by the backbone)
    up_head: str  # key of UP_HEADS
    seg_head: str  # key of SEG_HEADS
    mobile: bool  # nearest resizes in the up-head; otherwise bilinear align_corners=True
    input_size: tuple[int, int]  # native (height, width) on Cityscapes
    val_miou: float  # published Cityscapes val mIoU (the paper / official README)
    miou_note: str = ""  # e.g. "FP16" where the paper quotes a quantised model

    @property
    def output_stride(self) -> int:
        """Input size / logits size (before `resize_to_input`)."""
        return 8 if self.deep_stride else 4

    @property
    def resize_mode(self) -> str:
        return NEAREST if self.mobile else BILINEAR_ALIGN_CORNERS


_NAME = re.compile(
    r"ffnet(?P<backbone>\d+N?S?)_(?P<d>d?)(?P<stem>[ABC])(?P<up>[ABC])(?P<seg>[ABC])"
    r"(?P<mobile>_mobile)?"
)


def _variant(name, input_size, val_miou, miou_note=""):
    """Read a variant's parts from its official name, so the name and the parts cannot drift."""
    m = _NAME.fullmatch(name)
    spec = FFNetVariant(
        m["backbone"],
        bool(m["d"]),
        m["stem"],
        m["up"],
        m["seg"],
        bool(m["mobile"]),
        input_size,
        val_miou,
        miou_note,
    )
    assert BACKBONES[spec.backbone].stem == spec.stem, name
    return spec


_FULL = (1024, 2048)
_HALF = (512, 1024)
FFNET_VARIANTS = {
    v: _variant(v, *rest)
    for v, *rest in (
        ("ffnet40S_dBBB_mobile", _FULL, 78.8, "FP16"),
        ("ffnet54S_dBBB_mobile", _FULL, 79.2),
        ("ffnet78S_dBBB_mobile", _FULL, 80.0),
        ("ffnet40S_BCC_mobile", _HALF, 77.5),
        ("ffnet54S_BCC_mobile", _HALF, 78.1),
        ("ffnet78S_BCC_mobile", _HALF, 79.4),
        ("ffnet46NS_CCC_mobile", _HALF, 76.5),
        ("ffnet74NS_CCC_mobile", _HALF, 77.4),
        ("ffnet122NS_CCC_mobile", _HALF, 78.7),
        ("ffnet18_dAAC", _FULL, 76.4),
        ("ffnet34_dAAC", _FULL, 79.1),
    )
}


def build_ffnet(
    variant: str, num_classes: int = 19, input_shape=(None, None, 3), resize_to_input: bool = True
) -> keras.Model:
    """Build an FFNet variant (a key of FFNET_VARIANTS) as a functional Keras model.

    Args:
        variant: e.g. "ffnet40S_dBBB_mobile".
        num_classes: classifier outputs.
        input_shape: (height, width, 3); None sizes give a model for any size.
        resize_to_input: resize the logits bilinearly (align_corners=False, as the official
            evaluation does) to the input's size; False keeps them at 1/4 or 1/8
            (`FFNET_VARIANTS[variant].output_stride`), as the PyTorch model returns them.

    Takes RGB 0..255 (uint8 or float) and normalises inside the graph; returns float32 logits.

    Example:
        model = build_ffnet("ffnet40S_dBBB_mobile", input_shape=(1024, 2048, 3))
    """
    if variant not in FFNET_VARIANTS:
        raise ValueError(
            f"unknown FFNet variant {variant!r}: expected one of {', '.join(FFNET_VARIANTS)}"
        )
    if not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"num_classes must be a positive integer, got {num_classes!r}")
    input_shape = tuple(input_shape)
    if (
        len(input_shape) != 3
        or input_shape[2] != 3
        or any(s is not None and s < 1 for s in input_shape[:2])
    ):
        raise ValueError(
            f"input_shape must be (height, width, 3) with positive or None sizes, got {input_shape}"
        )
    spec = FFNET_VARIANTS[variant]
    images = keras.Input(shape=input_shape, name="image")
    x = Normalize(name="normalize")(images)  # = PyTorch's /255 then ImageNet mean/std
    features = backbone(x, BACKBONES[spec.backbone], spec.deep_stride)
    x = up_head(features, UP_HEADS[spec.up_head], spec.resize_mode)
    logits = segmentation_head(x, SEG_HEADS[spec.seg_head], num_classes)
    if resize_to_input:
        logits = ResizeLike(name=LOGITS, dtype="float32")([logits, images])
    else:
        logits = keras.layers.Activation("linear", name=LOGITS, dtype="float32")(logits)
    return keras.Model(images, logits, name=variant)
