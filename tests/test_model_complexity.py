"""Parameter and MAC counts against the published figures (Fast-SCNN: the 6.7 GMACs at 1024x2048
quoted for it in published comparisons; FFNet: the official models' GMACs at their native inputs,
from the FFNet paper, Mehta et al. CVPR-W 2022, and the README of Qualcomm-AI-research/FFNet)."""

import pytest

from fast_scnn_tf.model import build_model
from fast_scnn_tf.model.complexity import macs, trainable_parameters
from fast_scnn_tf.model.ffnet import FFNET_VARIANTS


def test_fast_scnn_at_full_resolution():
    model = build_model("fast_scnn", input_shape=(1024, 2048, 3))
    assert trainable_parameters(model) == 1_137_795
    assert macs(model) == 6_709_649_408  # 6.7 GMACs


@pytest.mark.parametrize(
    "variant, gmacs",
    [
        ("ffnet40S_dBBB_mobile", 62.4),
        ("ffnet40S_BCC_mobile", 45.9),
        ("ffnet46NS_CCC_mobile", 28.0),
        ("ffnet122NS_CCC_mobile", 51.0),
        ("ffnet18_dAAC", 47.5),
        ("ffnet34_dAAC", 66.8),
    ],
)
def test_ffnet_gmacs_at_the_native_input(variant, gmacs):
    model = build_model(variant, input_shape=(*FFNET_VARIANTS[variant].input_size, 3))
    assert round(macs(model) / 1e9, 1) == gmacs


def test_dynamic_input_is_refused():
    with pytest.raises(ValueError, match="static input_shape"):
        macs(build_model("fast_scnn"))
