"""FFNet up-heads (the second letter after the backbone in a variant name).

Mehta et al., "Simple and Efficient Architectures for Semantic Segmentation", CVPR-W 2022;
widths as in github.com/Qualcomm-AI-research/FFNet (`models/ffnet_blocks.py`: `AdapterConv`,
`UpBranch`, `UpsampleCat`). Level k = 0..3 is the backbone's k-th feature, finest first
(1/4..1/32, or 1/8..1/64 for `d` variants); layer names use that index:

    feature k -> head_adapter{k} (1x1 ConvBNReLU)
    level 3:  head_branch3_smooth (3x3), head_branch3_up (1x1)
    level k:  x = resize(up of level k+1) + adapter k -> head_branch{k}_smooth, head_branch{k}_up
    all smooth outputs resized to level 0 and concatenated, finest first
"""

from __future__ import annotations

import dataclasses

import keras

from fast_scnn_tf.model.layers import ResizeLike, conv_bn_relu


@dataclasses.dataclass(frozen=True)
class UpHeadSpec:
    adapter_widths: tuple[int, int, int, int]  # 1x1 adapters on the four features, finest first
    branch_widths: tuple[int, int, int, int]  # 3x3 "smooth" outputs, finest first


UP_HEADS = {
    "A": UpHeadSpec((64, 128, 256, 512), (128, 128, 128, 128)),
    "B": UpHeadSpec((64, 128, 128, 256), (96, 96, 64, 32)),
    "C": UpHeadSpec((128, 128, 128, 128), (128, 16, 16, 16)),
}


def up_head(features, spec: UpHeadSpec, resize_mode: str):
    """Fuse the four backbone features top-down and return their concatenation at level 0.

    `resize_mode` is "nearest" (mobile models) or "bilinear_align_corners" (GPU models).
    """
    adapted = [
        conv_bn_relu(f, width, 1, f"head_adapter{k}")
        for k, (f, width) in enumerate(zip(features, spec.adapter_widths))
    ]
    smooth = [None] * 4
    x = adapted[3]
    smooth[3] = conv_bn_relu(x, spec.branch_widths[3], 3, "head_branch3_smooth")
    for k in (2, 1, 0):
        up = conv_bn_relu(x, spec.adapter_widths[k], 1, f"head_branch{k + 1}_up")
        up = ResizeLike(resize_mode, name=f"head_branch{k}_resize")([up, adapted[k]])
        # No ReLU after the add: the official UpBranch feeds the sum straight to the convs.
        x = keras.layers.Add(name=f"head_branch{k}_add")([up, adapted[k]])
        smooth[k] = conv_bn_relu(x, spec.branch_widths[k], 3, f"head_branch{k}_smooth")
    resized = [smooth[0]] + [
        ResizeLike(resize_mode, name=f"head_concat_resize{k}")([smooth[k], smooth[0]])
        for k in (1, 2, 3)
    ]
    return keras.layers.Concatenate(name="head_concat")(resized)
