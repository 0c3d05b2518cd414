"""The graph is Table 1-3 of the paper: shapes, parameter counts and the details peers got wrong."""

import keras
import numpy as np
import pytest

from fast_scnn_tf import build_fast_scnn
from fast_scnn_tf.model import fast_scnn
from fast_scnn_tf.model.fast_scnn import module_parameter_counts


@pytest.fixture(scope="module")
def full_size_model():
    """A static 1024x2048 model: shapes are checked symbolically, nothing is computed."""
    return build_fast_scnn(input_shape=(1024, 2048, 3))


def _inbound(model):
    """layer name -> names of the layers feeding it."""
    graph = {}
    for layer in model.layers:
        parents = []
        for node in layer._inbound_nodes:
            for tensor in node.input_tensors:
                parents.append(tensor._keras_history.operation.name)
        graph[layer.name] = parents
    return graph


@pytest.fixture(scope="module")
def graph(full_size_model):
    return _inbound(full_size_model)


@pytest.mark.parametrize(
    "layer,shape",
    [
        ("ltd_conv_relu", (512, 1024, 32)),
        ("ltd_dsconv1_pw_relu", (256, 512, 48)),
        ("ltd_dsconv2_pw_relu", (128, 256, 64)),  # LtD output, 1/8
        ("gfe_bottleneck1_3_add", (64, 128, 64)),
        ("gfe_bottleneck2_3_add", (32, 64, 96)),
        ("gfe_bottleneck3_3_add", (32, 64, 128)),  # 1/32
        ("gfe_ppm_fuse_relu", (32, 64, 128)),  # GFE output after pyramid pooling
        ("ffm_relu", (128, 256, 128)),  # FFM output, 1/8
        ("cls_dsconv2_pw_relu", (128, 256, 128)),
        ("cls_logits", (128, 256, 19)),
        ("logits", (1024, 2048, 19)),  # bilinear x8 to the input size
    ],
)
def test_module_output_shapes_match_table_1(full_size_model, layer, shape):
    assert tuple(full_size_model.get_layer(layer).output.shape[1:]) == shape


def test_trainable_parameters_near_paper(full_size_model):
    n = sum(int(np.prod(w.shape)) for w in full_size_model.trainable_weights)
    assert 1_100_000 <= n <= 1_150_000  # paper 1.11M; faithful peers 1.134M-1.138M
    assert n == 1_137_795


def _bottleneck_params(c_in, c_out, t=6):
    hidden = t * c_in
    return (c_in * hidden + 2 * hidden) + (9 * hidden + 2 * hidden) + (hidden * c_out + 2 * c_out)


def test_per_module_parameter_split(full_size_model):
    gfe = 0
    c_in = 64
    for _, c, n, _ in fast_scnn.BOTTLENECKS:
        for _ in range(n):
            gfe += _bottleneck_params(c_in, c)
            c_in = c
    ppm = 4 * (128 * 32 + 2 * 32) + (256 * 128 + 2 * 128)
    assert module_parameter_counts(full_size_model) == {
        # conv 3x3 3->32 + BN; DSConv 32->48; DSConv 48->64 (BN: gamma and beta per channel)
        "learning_to_downsample": (27 * 32 + 64)
        + (9 * 32 + 64 + 32 * 48 + 96)
        + (9 * 48 + 96 + 48 * 64 + 128),
        "global_feature_extractor": gfe + ppm,
        # depthwise 3x3 (dilation 4) + BN, 1x1 128->128 + BN; skip 1x1 64->128 + BN
        "feature_fusion": (9 * 128 + 256) + (128 * 128 + 256) + (64 * 128 + 256),
        # two DSConv 128, 1x1 128->19 with bias
        "classifier": 2 * (9 * 128 + 256 + 128 * 128 + 256) + (128 * 19 + 19),
    }
    assert module_parameter_counts(full_size_model)["global_feature_extractor"] == 1_066_112


@pytest.mark.parametrize("name", ["ltd_dsconv1", "ltd_dsconv2", "cls_dsconv1", "cls_dsconv2"])
def test_dsconv_has_no_activation_between_depthwise_and_pointwise(full_size_model, graph, name):
    dw = full_size_model.get_layer(name + "_dw")
    assert isinstance(dw, keras.layers.DepthwiseConv2D)
    assert dw.activation.__name__ == "linear"
    assert graph[name + "_dw_bn"] == [name + "_dw"]
    pointwise = full_size_model.get_layer(name + "_pw_conv")
    assert pointwise.kernel_size == (1, 1)
    assert graph[name + "_pw_conv"] == [name + "_dw_bn"]  # BN feeds the 1x1 conv directly


def test_ffm_depthwise_has_dilation_4_on_upsampled_low_res(full_size_model, graph):
    dw = full_size_model.get_layer("ffm_dw")
    assert isinstance(dw, keras.layers.DepthwiseConv2D)
    assert dw.dilation_rate == (4, 4)
    assert graph["ffm_dw"] == ["ffm_upsample"]
    assert graph["ffm_upsample"] == ["gfe_ppm_fuse_relu", "ltd_dsconv2_pw_relu"]


def test_ffm_branches_are_linear_before_the_add(graph):
    assert sorted(graph["ffm_add"]) == ["ffm_low_bn", "ffm_skip_bn"]
    assert graph["ffm_skip_conv"] == ["ltd_dsconv2_pw_relu"]
    assert graph["ffm_relu"] == ["ffm_add"]


def test_bottleneck_projection_is_linear(full_size_model, graph):
    consumers = {}
    for layer, parents in graph.items():
        for parent in parents:
            consumers.setdefault(parent, []).append(layer)
    projections = [
        layer.name for layer in full_size_model.layers if layer.name.endswith("_project_bn")
    ]
    assert len(projections) == 9
    for name in projections:
        for consumer in consumers[name]:
            assert not isinstance(full_size_model.get_layer(consumer), keras.layers.ReLU), name


def test_every_relu_follows_batchnorm(full_size_model, graph):
    for layer in full_size_model.layers:
        if isinstance(layer, keras.layers.ReLU):
            parents = [full_size_model.get_layer(p) for p in graph[layer.name]]
            if layer.name == "ffm_relu":  # ReLU(BN(low) + BN(skip))
                parents = [full_size_model.get_layer(p) for p in graph["ffm_add"]]
            assert all(isinstance(p, keras.layers.BatchNormalization) for p in parents), layer.name


def test_residuals_only_where_stride_1_and_same_channels(full_size_model):
    adds = sorted(
        layer.name
        for layer in full_size_model.layers
        if isinstance(layer, keras.layers.Add) and layer.name.startswith("gfe_")
    )
    assert adds == [f"gfe_bottleneck{s}_{i}_add" for s in (1, 2, 3) for i in (2, 3)]


def test_pyramid_pooling_bins_and_reduction(full_size_model):
    for b in (1, 2, 3, 6):
        assert tuple(full_size_model.get_layer(f"gfe_ppm_pool{b}").output.shape[1:]) == (b, b, 128)
        assert full_size_model.get_layer(f"gfe_ppm_pool{b}_conv").filters == 32  # C/4
    assert full_size_model.get_layer("gfe_ppm_concat").output.shape[-1] == 256


def test_dropout_only_before_last_classifier_layer(full_size_model, graph):
    dropouts = [
        layer.name for layer in full_size_model.layers if isinstance(layer, keras.layers.Dropout)
    ]
    assert dropouts == ["cls_dropout"]
    assert graph["cls_logits"] == ["cls_dropout"]


def test_no_keras_resizing_layer(full_size_model):
    assert not any(isinstance(layer, keras.layers.Resizing) for layer in full_size_model.layers)
