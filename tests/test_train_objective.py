"""The pieces of §4.1's objective: poly learning rate, masked cross-entropy, L2 and their sum."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from fast_scnn_tf import build_fast_scnn
from fast_scnn_tf.config import Config
from fast_scnn_tf.model import AUX_GFE, AUX_LTD, LOGITS
from fast_scnn_tf.training import (
    apply_preset,
    l2_penalty,
    masked_cross_entropy,
    poly_schedule,
    regularized_kernels,
    training_loss,
)


def _np_cross_entropy(labels, logits):
    """Mean softmax cross-entropy over pixels whose label is not 255, in float64."""
    logits = logits.astype(np.float64)
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    valid = labels != 255
    picked = np.take_along_axis(log_probs, np.where(valid, labels, 0)[..., None], -1)[..., 0]
    return -picked[valid].mean()


@pytest.mark.parametrize("step", [0, 1, 250, 999, 1000, 1500])
def test_poly_learning_rate_is_the_papers_formula(step):
    expected = 0.045 * (1 - min(step, 1000) / 1000) ** 0.9
    # float32 arithmetic: 1 - step/total carries an absolute error near 1e-7 (so ~1e-9 in lr).
    assert float(poly_schedule(0.045, 1000)(step)) == pytest.approx(expected, rel=1e-6, abs=1e-8)


def test_poly_schedule_with_floor_round_trips_through_its_config():
    schedule = poly_schedule(0.12, 160_000, end_lr=1e-4)
    clone = keras.optimizers.schedules.deserialize(keras.optimizers.schedules.serialize(schedule))
    for step in (0, 80_000, 160_000, 200_000):
        expected = (0.12 - 1e-4) * (1 - min(step, 160_000) / 160_000) ** 0.9 + 1e-4
        assert float(clone(step)) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("step", [0, 100, 500, 501, 2750, 5000, 6000])
def test_warmup_poly_is_dabnets_schedule(step):
    # DABNet (Reagan1311/DABNet, utils/lr_scheduler.py WarmupPolyLR): linear from base/3 to base
    # over the warm-up steps, then poly over the steps that remain.
    base, total, warmup = 1e-3, 5000, 500
    if step <= warmup:
        expected = base * (1 / 3 + (2 / 3) * step / warmup)
    else:
        expected = base * (1 - (min(step, total) - warmup) / (total - warmup)) ** 0.9
    schedule = poly_schedule(base, total, warmup_steps=warmup)
    clone = keras.optimizers.schedules.deserialize(keras.optimizers.schedules.serialize(schedule))
    for s in (schedule, clone):
        assert float(s(step)) == pytest.approx(expected, rel=1e-5, abs=1e-10)


def test_warmup_must_end_before_the_schedule():
    with pytest.raises(ValueError, match="--warmup-steps 500 must be >= 0 and below the run's 500"):
        poly_schedule(1e-3, 500, warmup_steps=500)


def test_masked_cross_entropy_matches_numpy_and_skips_255():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, 5, 7, 4)).astype(np.float32)
    labels = rng.integers(0, 4, size=(2, 5, 7)).astype(np.uint8)
    labels[0, :2] = 255
    got = float(masked_cross_entropy(labels, logits))
    assert got == pytest.approx(_np_cross_entropy(labels, logits), rel=1e-5)
    # Changing the logits under ignored pixels changes nothing.
    logits[0, :2] += 100.0
    assert float(masked_cross_entropy(labels, logits)) == pytest.approx(got, rel=1e-6)


def test_all_ignored_batch_gives_zero_loss_and_zero_gradients():
    logits = tf.Variable(tf.random.normal((1, 3, 3, 5)))
    labels = tf.fill((1, 3, 3), tf.constant(255, tf.uint8))
    with tf.GradientTape() as tape:
        loss = masked_cross_entropy(labels, logits)
    grad = tape.gradient(loss, logits)
    assert float(loss) == 0.0
    assert np.all(grad.numpy() == 0.0)


def test_regularised_variables_are_exactly_the_non_depthwise_kernels():
    model = build_fast_scnn(num_classes=5, aux=True)
    depthwise = {
        v.path
        for layer in model.layers
        if isinstance(layer, keras.layers.DepthwiseConv2D)
        for v in layer.weights
    }
    assert depthwise, "the model should have depthwise convolutions"
    expected = {
        v.path
        for v in model.trainable_variables
        if v.path.endswith("/kernel") and v.path not in depthwise
    }
    got = [v.path for v in regularized_kernels(model)]
    assert len(got) == len(set(got))
    assert set(got) == expected
    # The classifier and both auxiliary heads are regularised; BN and biases are not.
    assert {"cls_logits/kernel", "aux_ltd_logits/kernel", "aux_gfe_logits/kernel"} <= set(got)
    assert not any(p.endswith(("/gamma", "/beta", "/bias")) for p in got)


def test_the_mmseg_preset_decays_every_parameter_as_mmsegmentation():
    model = build_fast_scnn(num_classes=5, aux=True)
    assert regularized_kernels(model, every_parameter=True) == model.trainable_variables
    got = {v.path for v in regularized_kernels(model, every_parameter=True)}
    depthwise = {
        v.path
        for layer in model.layers
        if isinstance(layer, keras.layers.DepthwiseConv2D)
        for v in layer.weights
    }
    assert depthwise and depthwise <= got
    assert any(p.endswith(("/gamma", "/beta")) for p in got)
    assert any(p.endswith("/bias") for p in got)
    assert apply_preset(Config(), "mmseg").train.decay_all_parameters
    back = apply_preset(apply_preset(Config(), "mmseg"), "paper")
    assert not back.train.decay_all_parameters


def test_l2_penalty_is_half_the_sum_of_squares_times_the_decay():
    kernels = [tf.Variable([[1.0, -2.0]]), tf.Variable([3.0])]
    assert float(l2_penalty(kernels, 4e-5)) == pytest.approx(4e-5 * (1 + 4 + 9) / 2, rel=1e-6)


def test_total_loss_is_main_plus_weighted_aux_plus_l2_on_a_hand_checked_example():
    # One row of two pixels, two classes. Main logits favour the right class, aux logits are
    # flat (log 2 each) or wrong; the second pixel is ignored everywhere.
    labels = np.array([[[1, 255]]], np.uint8)
    outputs = {
        LOGITS: np.array([[[[0.0, np.log(3.0)], [9.0, -9.0]]]], np.float32),  # p = 3/4
        AUX_LTD: np.zeros((1, 1, 2, 2), np.float32),  # p = 1/2
        AUX_GFE: np.array([[[[np.log(3.0), 0.0], [0.0, 0.0]]]], np.float32),  # p = 1/4
    }
    kernels = [tf.Variable([2.0, 1.0])]
    terms = training_loss(outputs, labels, kernels, aux_weight=0.4, weight_decay=0.1)
    main, aux1, aux2, l2 = np.log(4 / 3), np.log(2.0), np.log(4.0), 0.1 * 5 / 2
    assert float(terms[LOGITS]) == pytest.approx(main, rel=1e-5)
    assert float(terms[AUX_LTD]) == pytest.approx(aux1, rel=1e-5)
    assert float(terms[AUX_GFE]) == pytest.approx(aux2, rel=1e-5)
    assert float(terms["l2"]) == pytest.approx(l2, rel=1e-6)
    assert float(terms["loss"]) == pytest.approx(main + 0.4 * aux1 + 0.4 * aux2 + l2, rel=1e-5)


def _loss_and_gradient(loss_fn, logits, labels):
    logits = tf.constant(logits)
    with tf.GradientTape() as tape:
        tape.watch(logits)
        weights = tf.linspace(0.5, 2.0, tf.size(labels))  # a non-uniform upstream gradient
        loss = tf.reduce_sum(loss_fn(logits, labels) * tf.reshape(weights, labels.shape))
    return float(loss), tape.gradient(loss, logits).numpy()


@pytest.mark.parametrize("scale", [1.0, 8.0])  # 8: logit gaps up to ~70
def test_softmax_cross_entropy_is_tensorflows_op_in_loss_and_gradient(scale):
    from fast_scnn_tf.training.losses import softmax_cross_entropy

    rng = np.random.default_rng(0)
    logits = (rng.normal(size=(2, 9, 13, 11)) * scale).astype(np.float32)
    labels = tf.constant(rng.integers(0, 11, (2, 9, 13)), tf.int32)
    ours = _loss_and_gradient(softmax_cross_entropy, logits, labels)
    op = _loss_and_gradient(
        lambda x, y: tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=x),
        logits,
        labels,
    )
    assert ours[0] == pytest.approx(op[0], rel=1e-5)
    np.testing.assert_allclose(ours[1], op[1], atol=1e-6)


def test_softmax_cross_entropy_stays_finite_for_a_hopeless_pixel():
    from fast_scnn_tf.training.losses import softmax_cross_entropy

    logits = np.zeros((1, 1, 1, 3), np.float32)
    logits[..., 0] = 200.0  # the true class (2) is ~1e-87 likely: below float32's range
    loss, grad = _loss_and_gradient(softmax_cross_entropy, logits, tf.constant([[[2]]]))
    assert np.isfinite(loss) and loss == pytest.approx(0.5 * 87.3, rel=1e-3)  # upstream 0.5
    np.testing.assert_allclose(grad[0, 0, 0], [0.5, 0.0, -0.5], atol=1e-6)  # weight 0.5 upstream
