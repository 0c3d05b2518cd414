"""Fast-SCNN (Poudel, Liwicki, Cipolla, BMVC 2019, arXiv 1902.04502) as a Keras functional graph.

The four paper modules are the four functions below; `build_fast_scnn` wires them as Table 1:

    image -> learning_to_downsample (1/8, 64 ch) ------------------------------+ skip
                 -> global_feature_extractor (1/32, 128 ch, pyramid pooling) -> feature_fusion
                 -> classifier (1/8, num_classes) -> bilinear to the input size

Framework choices, written down where they differ from PyTorch ports (the layers are the shared
vocabulary of `layers.py`):
- BatchNorm momentum 0.9 / epsilon 1e-5: PyTorch's defaults (momentum 0.1 there), as the ports we
  compare against use (`layers.BatchNorm`, Keras' layer with a fused training step).
- Stride-2 convs use TensorFlow "same" padding (pads bottom/right when the size is even; PyTorch's
  padding=1 pads both sides). It keeps output sizes ceil(L/2) for any input size.
- Convolutions followed by BatchNorm carry no bias (BN's beta is the bias); the last 1x1 has one.
"""

from __future__ import annotations

import keras

from fast_scnn_tf.model.contract import LOGITS
from fast_scnn_tf.model.layers import (
    AdaptiveAveragePooling2D,
    Normalize,
    ResizeLike,
    batch_norm,
    conv2d,
    conv_bn_relu,
    relu,
)

# Output keys of the training model (aux=True) besides LOGITS, and names of the module outputs.
AUX_LTD = "aux_ltd"  # auxiliary logits from the Learning to Downsample output
AUX_GFE = "aux_gfe"  # auxiliary logits from the Global Feature Extractor output
MODULES = ("learning_to_downsample", "global_feature_extractor", "feature_fusion", "classifier")
# Layer-name prefix of each module (the per-module parameter split is counted by these).
MODULE_PREFIX = {
    "learning_to_downsample": "ltd_",
    "global_feature_extractor": "gfe_",
    "feature_fusion": "ffm_",
    "classifier": "cls_",
}
# The skip branch's last BatchNorm: zeroing its gamma and beta removes the skip (§4.2 ablation).
SKIP_BN = "ffm_skip_bn"

BOTTLENECKS = ((6, 64, 3, 2), (6, 96, 3, 2), (6, 128, 3, 1))  # Table 1: t, c, n, s
PYRAMID_BINS = (1, 2, 3, 6)


def _depthwise(x, name, strides=1, dilation=1):
    return keras.layers.DepthwiseConv2D(
        3, strides=strides, dilation_rate=dilation, padding="same", use_bias=False, name=name
    )(x)


def ds_conv(x, filters, name, strides=1):
    """Depthwise-separable conv: depthwise 3x3 + BN (no non-linearity), pointwise 1x1 + BN +
    ReLU."""
    x = batch_norm(_depthwise(x, name + "_dw", strides), name + "_dw_bn")
    return conv_bn_relu(x, filters, 1, name + "_pw")


def bottleneck(x, expansion, filters, strides, name):
    """MobileNetV2 inverted residual (Table 2); the 1x1 projection is linear."""
    in_channels = x.shape[-1]
    y = conv_bn_relu(x, expansion * in_channels, 1, name + "_expand")
    y = relu(batch_norm(_depthwise(y, name + "_dw", strides), name + "_dw_bn"), name + "_dw_relu")
    y = batch_norm(conv2d(y, filters, 1, name + "_project"), name + "_project_bn")
    if strides == 1 and in_channels == filters:
        y = keras.layers.Add(name=name + "_add")([x, y])
    return y


def pyramid_pooling(x, name, bins=PYRAMID_BINS):
    """PSPNet pyramid pooling: adaptive average pools, each reduced to C/4, upsampled, concatenated
    with the input and fused back to C channels."""
    channels = x.shape[-1]
    branches = [x]
    for b in bins:
        y = AdaptiveAveragePooling2D(b, name=f"{name}_pool{b}")(x)
        y = conv_bn_relu(y, channels // 4, 1, f"{name}_pool{b}")
        branches.append(ResizeLike(name=f"{name}_pool{b}_up")([y, x]))
    x = keras.layers.Concatenate(name=name + "_concat")(branches)
    return conv_bn_relu(x, channels, 1, name + "_fuse")


def learning_to_downsample(x):
    """Conv 3x3/2 (32) -> DSConv/2 (48) -> DSConv/2 (64): the 1/8-resolution skip features."""
    x = conv_bn_relu(x, 32, 3, "ltd_conv", strides=2)
    x = ds_conv(x, 48, "ltd_dsconv1", strides=2)
    return ds_conv(x, 64, "ltd_dsconv2", strides=2)


def global_feature_extractor(x):
    """Nine bottlenecks (t=6; 64, 96, 128 channels x3; strides 2, 2, 1), then pyramid pooling."""
    for stage, (t, c, n, s) in enumerate(BOTTLENECKS, start=1):
        for i in range(n):
            x = bottleneck(x, t, c, s if i == 0 else 1, f"gfe_bottleneck{stage}_{i + 1}")
    return pyramid_pooling(x, "gfe_ppm")


def feature_fusion(high_res, low_res, filters=128):
    """Feature Fusion Module (Table 3): the low-resolution branch is upsampled to the skip's exact
    size, then depthwise 3x3 dilation 4 + BN + ReLU and 1x1 + BN (linear); the skip gets 1x1 + BN
    (linear); the two are added and passed through ReLU."""
    low = ResizeLike(name="ffm_upsample")([low_res, high_res])
    low = relu(batch_norm(_depthwise(low, "ffm_dw", dilation=4), "ffm_dw_bn"), "ffm_dw_relu")
    low = batch_norm(conv2d(low, filters, 1, "ffm_low_conv"), "ffm_low_bn")
    high = batch_norm(conv2d(high_res, filters, 1, "ffm_skip_conv"), SKIP_BN)
    return relu(keras.layers.Add(name="ffm_add")([low, high]), "ffm_relu")


def classifier(x, num_classes, dropout):
    """Two DSConv (128), dropout just before the last layer, 1x1 conv to class logits (1/8 size)."""
    x = ds_conv(x, 128, "cls_dsconv1")
    x = ds_conv(x, 128, "cls_dsconv2")
    x = keras.layers.Dropout(dropout, name="cls_dropout")(x)
    return keras.layers.Conv2D(num_classes, 1, name="cls_logits")(x)


def _aux_head(x, num_classes, dropout, name):
    """Auxiliary classifier for the training losses: 3x3 conv (32) + BN + ReLU, dropout, 1x1."""
    x = conv_bn_relu(x, 32, 3, name)
    x = keras.layers.Dropout(dropout, name=name + "_dropout")(x)
    return keras.layers.Conv2D(num_classes, 1, name=name + "_logits")(x)


@keras.saving.register_keras_serializable(package="fast_scnn_tf")
class FastSCNN(keras.Model):
    """Fast-SCNN as a functional Keras model.

    Args:
        num_classes: number of output classes (19 for Cityscapes).
        aux: if True, the training model: outputs a dict with `logits`, `aux_ltd` and `aux_gfe`,
            all logits at input size; if False, the inference model: one logits tensor.
        dropout: dropout rate before the last classifier layer (and in the auxiliary heads).
        input_shape: (height, width, 3); None for a dynamic size. Any size >= 32 works.

    Inputs are RGB values 0..255 (uint8 or float); normalisation happens inside the model, and the
    logits always have the input's height and width.

    Example:
        model = FastSCNN(num_classes=19)
        logits = model(images, training=False)  # (batch, H, W, 19)
    """

    def __init__(
        self, num_classes=19, aux=False, dropout=0.1, input_shape=(None, None, 3), **kwargs
    ):
        input_shape = tuple(input_shape)
        if len(input_shape) != 3 or input_shape[2] != 3:
            raise ValueError(f"input_shape must be (height, width, 3), got {input_shape}")
        for size in input_shape[:2]:
            if size is not None and size < 32:
                raise ValueError(f"input height and width must be >= 32, got {input_shape}")
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        images = keras.Input(shape=input_shape, name="image")
        x = Normalize(name="normalize")(images)
        ltd = learning_to_downsample(x)
        gfe = global_feature_extractor(ltd)
        fused = feature_fusion(ltd, gfe)
        logits = classifier(fused, num_classes, dropout)
        # float32 outputs keep the loss and softmax stable under mixed precision.
        outputs = ResizeLike(name=LOGITS, dtype="float32")([logits, images])
        if aux:
            aux_ltd = _aux_head(ltd, num_classes, dropout, "aux_ltd")
            aux_gfe = _aux_head(gfe, num_classes, dropout, "aux_gfe")
            outputs = {
                LOGITS: outputs,
                AUX_LTD: ResizeLike(name=AUX_LTD, dtype="float32")([aux_ltd, images]),
                AUX_GFE: ResizeLike(name=AUX_GFE, dtype="float32")([aux_gfe, images]),
            }
        kwargs.setdefault("name", "fast_scnn")
        super().__init__(inputs=images, outputs=outputs, **kwargs)
        self.num_classes = num_classes
        self.aux = aux
        self.dropout = dropout
        self.image_shape = input_shape

    def get_config(self):
        return {
            "num_classes": self.num_classes,
            "aux": self.aux,
            "dropout": self.dropout,
            "input_shape": self.image_shape,
            "name": self.name,
            "trainable": self.trainable,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def build_fast_scnn(num_classes=19, aux=False, dropout=0.1, input_shape=(None, None, 3)):
    """Build Fast-SCNN; see `FastSCNN` for the arguments. `aux=True` gives the training model."""
    return FastSCNN(num_classes=num_classes, aux=aux, dropout=dropout, input_shape=input_shape)


def module_parameter_counts(model: keras.Model) -> dict[str, int]:
    """Trainable parameters of each paper module, counted by layer-name prefix."""
    counts = dict.fromkeys(MODULES, 0)
    for layer in model.layers:
        for module, prefix in MODULE_PREFIX.items():
            if layer.name.startswith(prefix):
                counts[module] += sum(int(w.numpy().size) for w in layer.trainable_weights)
    return counts
