"""The cls/prob inference heads reproduce the Keras model at the input's size."""

import numpy as np
import pytest

from fast_scnn_tf.export.heads import LABELS, PROBABILITIES, build_head
from fast_scnn_tf.model import build_fast_scnn


@pytest.fixture(scope="module")
def model():
    return build_fast_scnn(num_classes=5)


@pytest.fixture(scope="module")
def frames():
    return np.random.default_rng(0).integers(0, 256, (2, 65, 97, 3)).astype(np.uint8)


def test_cls_head_is_argmax_of_logits_as_uint8(model, frames):
    logits = model(frames.astype(np.float32), training=False).numpy()
    labels = build_head(model, "cls")(frames).numpy()
    assert labels.dtype == np.uint8 and labels.shape == (2, 65, 97)
    np.testing.assert_array_equal(labels, logits.argmax(-1))


def test_prob_head_is_softmax_of_logits(model, frames):
    logits = model(frames.astype(np.float32), training=False).numpy()
    out = build_head(model, "prob")(frames)
    expected = np.exp(logits - logits.max(-1, keepdims=True))
    expected /= expected.sum(-1, keepdims=True)
    np.testing.assert_allclose(out[PROBABILITIES].numpy(), expected, atol=1e-6)
    np.testing.assert_array_equal(out[LABELS].numpy(), logits.argmax(-1))


def test_fixed_size_head_has_static_shape(model):
    head = build_head(model, "cls", input_size=(64, 96))
    assert tuple(head.input.shape) == (None, 64, 96, 3) and head.input.dtype == "uint8"


def test_unknown_mode_is_rejected(model):
    with pytest.raises(ValueError, match="mode"):
        build_head(model, "logits")
