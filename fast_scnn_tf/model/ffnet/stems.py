"""The three FFNet stems (the first letter after the backbone in a variant name); each ends at 1/4.

Mehta et al., "Simple and Efficient Architectures for Semantic Segmentation", CVPR-W 2022;
structure as in github.com/Qualcomm-AI-research/FFNet (`models/resnet.py`). Layer names follow
the official module names (`stem_conv0` <-> `backbone_model.conv0`), so the converter's key table
stays a short list.
"""

from __future__ import annotations

import keras

from fast_scnn_tf.model.layers import TORCH, conv_bn_relu


def stem_a(x):
    """ResNet stem: conv 7x7/2 (64) BN ReLU, then max-pool 3x3/2 with padding 1."""
    x = conv_bn_relu(x, 64, 7, "stem", strides=2, padding=TORCH, suffix=1)
    # PyTorch pads the pool with -inf; zeros are equivalent here because the input is post-ReLU.
    x = keras.layers.ZeroPadding2D(1, name="stem_pool_pad")(x)
    return keras.layers.MaxPooling2D(3, strides=2, padding="valid", name="stem_pool")(x)


def stem_b(x):
    """Slim stem of the S backbones: conv 3x3/2 (32), conv 3x3/2 (64), each BN ReLU."""
    x = conv_bn_relu(x, 32, 3, "stem", strides=2, padding=TORCH, suffix=0)
    return conv_bn_relu(x, 64, 3, "stem", strides=2, padding=TORCH, suffix=1)


def stem_c(x, filters=64):
    """Deeper stem of the three-stage NS backbones: 3x3/2, 3x3/2, 3x3/1 (64 each), BN ReLU.
    Its output is the backbone's 1/4 feature."""
    x = conv_bn_relu(x, 64, 3, "stem", strides=2, padding=TORCH, suffix=0)
    x = conv_bn_relu(x, 64, 3, "stem", strides=2, padding=TORCH, suffix=1)
    return conv_bn_relu(x, filters, 3, "stem", strides=1, padding=TORCH, suffix=2)


STEMS = {"A": stem_a, "B": stem_b, "C": stem_c}
