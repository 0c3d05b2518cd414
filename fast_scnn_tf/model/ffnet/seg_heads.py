"""FFNet segmentation heads (the third letter after the backbone in a variant name).

Mehta et al., "Simple and Efficient Architectures for Semantic Segmentation", CVPR-W 2022;
as in github.com/Qualcomm-AI-research/FFNet (`SegmentationHead_NoSigmoid_1x1/_3x3`):
a 3x3 conv with bias, BN, ReLU, then the classifier conv with bias. Logits stay at the
up-head's resolution; resizing to the input is the builder's job.
"""

from __future__ import annotations

import dataclasses

from fast_scnn_tf.model.layers import conv2d, conv_bn_relu


@dataclasses.dataclass(frozen=True)
class SegHeadSpec:
    mid_channels: int
    classifier_kernel: int


SEG_HEADS = {
    "A": SegHeadSpec(512, 1),
    "B": SegHeadSpec(256, 3),
    "C": SegHeadSpec(128, 1),
}


def segmentation_head(x, spec: SegHeadSpec, num_classes: int):
    """3x3 conv (bias) -> BN -> ReLU -> classifier conv (bias): `seg_conv` .. `seg_classifier`."""
    x = conv_bn_relu(x, spec.mid_channels, 3, "seg", use_bias=True)
    return conv2d(x, num_classes, spec.classifier_kernel, "seg_classifier", use_bias=True)
