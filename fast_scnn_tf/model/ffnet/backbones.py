"""FFNet backbones: a stem and stages of ResNet basic blocks, returning the 1/4..1/32 features.

Mehta et al., "Simple and Efficient Architectures for Semantic Segmentation", CVPR-W 2022;
depths and widths as in github.com/Qualcomm-AI-research/FFNet (`models/resnet.py`).
Layer names mirror the official modules: stage s, block b is `stage{s}_block{b}_*`
(`backbone_model.layer{s}.{b}.*`); backbone convs carry no bias and pad as PyTorch (`TORCH`).
"""

from __future__ import annotations

import dataclasses

import keras

from fast_scnn_tf.model.ffnet.stems import STEMS
from fast_scnn_tf.model.layers import TORCH, batch_norm, conv2d, conv_bn_relu, relu


@dataclasses.dataclass(frozen=True)
class BackboneSpec:
    """Stem letter, blocks per stage and stage widths; stage strides are 1,2,2,2 (four stages) or
    2,2,2 (three stages, whose stem output is the 1/4 feature). `d` variants (`deep_stride`)
    use stride 2 in the first of four stages too, so every feature is one level coarser."""

    stem: str
    depths: tuple[int, ...]
    widths: tuple[int, ...]

    @property
    def three_stage(self) -> bool:
        return len(self.depths) == 3

    def strides(self, deep_stride: bool) -> tuple[int, ...]:
        if self.three_stage:
            return (2, 2, 2)
        return (2 if deep_stride else 1, 2, 2, 2)


_S_WIDTHS = (64, 128, 192, 320)
_RESNET_WIDTHS = (64, 128, 256, 512)
_NS_WIDTHS = (64, 128, 256)
BACKBONES = {
    "18": BackboneSpec("A", (2, 2, 2, 2), _RESNET_WIDTHS),
    "34": BackboneSpec("A", (3, 4, 6, 3), _RESNET_WIDTHS),
    "22S": BackboneSpec("B", (2, 3, 3, 2), _S_WIDTHS),
    "30S": BackboneSpec("B", (3, 4, 4, 3), _S_WIDTHS),
    "40S": BackboneSpec("B", (4, 5, 6, 4), _S_WIDTHS),
    "54S": BackboneSpec("B", (5, 8, 8, 5), _S_WIDTHS),
    "78S": BackboneSpec("B", (6, 12, 12, 8), _S_WIDTHS),
    "46NS": BackboneSpec("C", (6, 8, 8), _NS_WIDTHS),
    "74NS": BackboneSpec("C", (8, 12, 16), _NS_WIDTHS),
    "122NS": BackboneSpec("C", (16, 24, 20), _NS_WIDTHS),
}


def basic_block(x, filters, strides, name):
    """ResNet basic block: conv3x3(stride) BN ReLU, conv3x3 BN, plus the shortcut (a 1x1 conv
    with the same stride + BN when the width or the size changes), then ReLU."""
    y = conv_bn_relu(x, filters, 3, name, strides, padding=TORCH, suffix=1)
    y = batch_norm(conv2d(y, filters, 3, name + "_conv2", padding=TORCH), name + "_bn2")
    shortcut = x
    if strides != 1 or x.shape[-1] != filters:
        # A 1x1 conv pads nothing, in either framework: stride 2 takes the same pixels.
        shortcut = conv2d(x, filters, 1, name + "_shortcut_conv", strides, padding=TORCH)
        shortcut = batch_norm(shortcut, name + "_shortcut_bn")
    y = keras.layers.Add(name=name + "_add")([shortcut, y])
    return relu(y, name + "_relu")


def backbone(x, spec: BackboneSpec, deep_stride: bool = False) -> list:
    """The four features (finest first) the up-head reads: 1/4..1/32, or 1/8..1/64 with
    `deep_stride`."""
    x = STEMS[spec.stem](x)
    features = [x] if spec.three_stage else []  # stem C's output is the 1/4 feature
    for stage, (depth, width, strides) in enumerate(
        zip(spec.depths, spec.widths, spec.strides(deep_stride)), start=1
    ):
        for block in range(depth):
            x = basic_block(x, width, strides if block == 0 else 1, f"stage{stage}_block{block}")
        features.append(x)
    return features
