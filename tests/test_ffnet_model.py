"""FFNet in Keras: parameter counts pinned to the official models, output strides, any input size,
and the PyTorch resize semantics of the up-heads. No torch needed here (see test_ffnet_convert)."""

import math

import keras
import numpy as np
import pytest

from fast_scnn_tf.model.ffnet import FFNET_VARIANTS, build_ffnet
from fast_scnn_tf.model.ffnet.torch_weights import torch_module
from fast_scnn_tf.model.layers import ResizeLike

# Trainable parameters of the official PyTorch models (Qualcomm-AI-research/FFNet, counted with
# torch), 19 classes.
OFFICIAL_PARAMETERS = {
    "ffnet40S_dBBB_mobile": 13_911_283,
    "ffnet54S_dBBB_mobile": 18_044_659,
    "ffnet78S_dBBB_mobile": 27_491_059,
    "ffnet40S_BCC_mobile": 13_248_659,
    "ffnet54S_BCC_mobile": 17_382_035,
    "ffnet78S_BCC_mobile": 26_828_435,
    "ffnet46NS_CCC_mobile": 12_530_995,
    "ffnet74NS_CCC_mobile": 23_306_035,
    "ffnet122NS_CCC_mobile": 32_165_683,
    "ffnet18_dAAC": 13_403_347,
    "ffnet34_dAAC": 23_511_507,
}


# The smallest variant of each family (stem/backbone/head combination) runs in `make test-fast`;
# building the others takes 1-2.5 s each on 2 cores, so they are marked slow.
ONE_PER_FAMILY = (
    "ffnet40S_dBBB_mobile",
    "ffnet40S_BCC_mobile",
    "ffnet46NS_CCC_mobile",
    "ffnet18_dAAC",
)
VARIANTS = [
    name if name in ONE_PER_FAMILY else pytest.param(name, marks=pytest.mark.slow)
    for name in sorted(OFFICIAL_PARAMETERS)
]


def _trainable(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


@pytest.mark.parametrize("variant", VARIANTS)
def test_parameter_count_matches_official_model(variant):
    model = build_ffnet(variant)
    assert _trainable(model) == OFFICIAL_PARAMETERS[variant]
    # Every weighted layer has its own official module, so the converter covers the whole model.
    modules = [torch_module(layer.name) for layer in model.layers if layer.weights]
    assert len(modules) == len(set(modules))
    keras.backend.clear_session()


def test_variant_table_has_the_published_models():
    assert set(OFFICIAL_PARAMETERS) <= set(FFNET_VARIANTS)
    for name, spec in FFNET_VARIANTS.items():
        assert spec.input_size in ((1024, 2048), (512, 1024))
        # Every published model gives 128x256 logits at its native input size.
        h, w = spec.input_size
        assert (h // spec.output_stride, w // spec.output_stride) == (128, 256), name
        assert 70 < spec.val_miou < 85
        assert spec.mobile == name.endswith("_mobile")
    assert FFNET_VARIANTS["ffnet40S_dBBB_mobile"].output_stride == 8
    assert FFNET_VARIANTS["ffnet18_dAAC"].output_stride == 8
    assert FFNET_VARIANTS["ffnet40S_BCC_mobile"].output_stride == 4
    assert FFNET_VARIANTS["ffnet122NS_CCC_mobile"].output_stride == 4
    assert FFNET_VARIANTS["ffnet78S_dBBB_mobile"].val_miou == 80.0


@pytest.mark.parametrize(
    "variant",
    [
        pytest.param("ffnet40S_dBBB_mobile", marks=pytest.mark.slow),
        "ffnet40S_BCC_mobile",  # stride 4
        pytest.param("ffnet46NS_CCC_mobile", marks=pytest.mark.slow),
        "ffnet18_dAAC",
    ],
)  # stride 8
def test_logits_stride_for_any_input_size(variant):
    """Raw logits are ceil(size / stride) for even, odd and tiny inputs (as in PyTorch)."""
    model = build_ffnet(variant, num_classes=5, resize_to_input=False)
    stride = FFNET_VARIANTS[variant].output_stride
    for h, w in [(64, 128), (37, 53), (1, 1)]:
        out = model(np.zeros((1, h, w, 3), np.uint8), training=False)
        assert out.shape == (1, math.ceil(h / stride), math.ceil(w / stride), 5)
        assert out.dtype == "float32"
    keras.backend.clear_session()


def test_logits_resized_to_any_input_size():
    model = build_ffnet("ffnet18_dAAC", num_classes=3)
    for h, w in [(64, 128), (37, 53)]:
        image = np.random.default_rng(0).integers(0, 256, (2, h, w, 3), dtype=np.uint8)
        out = model(image, training=False)
        assert out.shape == (2, h, w, 3) and out.dtype == "float32"
        assert np.isfinite(out.numpy()).all()


@pytest.mark.slow  # over ~2 s on 2 cores: make test runs it, make test-fast does not
def test_static_input_shape():
    model = build_ffnet("ffnet40S_dBBB_mobile", input_shape=(64, 96, 3), resize_to_input=False)
    assert tuple(model.output.shape) == (None, 8, 12, 19)
    model = build_ffnet("ffnet46NS_CCC_mobile", input_shape=(33, 50, 3))
    assert tuple(model.output.shape) == (None, 33, 50, 19)


def test_readable_layer_names():
    model = build_ffnet("ffnet40S_dBBB_mobile")
    names = {layer.name for layer in model.layers}
    for name in [
        "image",
        "normalize",
        "stem_conv0",
        "stem_bn1",
        "stage1_block0_shortcut_conv",
        "stage4_block3_conv2",
        "head_adapter0_conv",
        "head_branch3_smooth_conv",
        "head_branch1_up_bn",
        "head_concat",
        "seg_conv",
        "seg_classifier",
        "logits",
    ]:
        assert name in names


def test_config_round_trip():
    model = build_ffnet("ffnet18_dAAC", num_classes=4)
    clone = keras.Model.from_config(model.get_config())
    assert _trainable(clone) == _trainable(model)
    modes = {
        layer.mode
        for layer in clone.layers
        if isinstance(layer, ResizeLike) and layer.name.startswith("head_")
    }  # the up-head's
    assert modes == {"bilinear_align_corners"}


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(variant="ffnet40S"), "unknown FFNet variant 'ffnet40S'"),
        (dict(variant="ffnet18_dAAC", num_classes=0), "num_classes"),
        (dict(variant="ffnet18_dAAC", input_shape=(64, 64, 4)), "input_shape"),
        (dict(variant="ffnet18_dAAC", input_shape=(0, 64, 3)), "input_shape"),
    ],
)
def test_invalid_arguments_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        build_ffnet(**kwargs)


def test_nearest_resize_is_pytorch_legacy_nearest():
    """PyTorch's mode="nearest" reads source floor(i * in / out), for non-integer ratios too."""
    x = np.arange(5 * 7, dtype=np.float32).reshape(1, 5, 7, 1)
    y = ResizeLike("nearest")([x, np.zeros((1, 13, 10, 1), np.float32)]).numpy()
    rows = np.floor(np.arange(13) * 5 / 13).astype(int)
    cols = np.floor(np.arange(10) * 7 / 10).astype(int)
    np.testing.assert_array_equal(y[0, :, :, 0], x[0, rows][:, cols, 0])


def test_bilinear_resize_aligns_corners():
    """align_corners=True: output pixel i samples input position i * (in - 1) / (out - 1)."""
    x = np.random.default_rng(0).normal(size=(1, 1, 6, 1)).astype(np.float32)
    y = ResizeLike("bilinear_align_corners")([x, np.zeros((1, 1, 11, 1), np.float32)]).numpy()
    expected = np.interp(np.arange(11) * 5 / 10, np.arange(6), x[0, 0, :, 0])
    np.testing.assert_allclose(y[0, 0, :, 0], expected, atol=1e-6)


@pytest.mark.slow
def test_native_input_size():
    """512x1024 (the BCC/CCC models' native size) -> 128x256 logits, and back to the input."""
    model = build_ffnet("ffnet46NS_CCC_mobile", input_shape=(512, 1024, 3), resize_to_input=False)
    image = np.random.default_rng(0).integers(0, 256, (1, 512, 1024, 3), dtype=np.uint8)
    assert model(image, training=False).shape == (1, 128, 256, 19)
    model = build_ffnet("ffnet46NS_CCC_mobile", input_shape=(512, 1024, 3))
    assert model(image, training=False).shape == (1, 512, 1024, 19)
