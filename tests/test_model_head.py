"""The one inference head (cls/prob) reproduces the model at the input's size, for every model
family, and at another size (the label's, for reduced-scale evaluation) it is one bilinear resize
of the low-resolution logits."""

import numpy as np
import pytest
import tensorflow as tf

import fabricate
from fast_scnn_tf.model import build_fast_scnn, build_model
from fast_scnn_tf.model.head import (
    CLS,
    LABELS,
    PROBABILITIES,
    build_head,
    head_at_size,
    head_outputs,
    low_res_logits,
    two_band_labels,
)


@pytest.fixture(scope="module")
def model():
    return build_fast_scnn(num_classes=5)


@pytest.fixture(scope="module")
def frames():
    return np.random.default_rng(0).integers(0, 256, (2, 65, 97, 3)).astype(np.uint8)


def softmax(logits):
    e = np.exp(logits - logits.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_cls_head_is_argmax_of_logits_as_uint8(model, frames):
    logits = model(frames.astype(np.float32), training=False).numpy()
    labels = build_head(model, "cls")(frames).numpy()
    assert labels.dtype == np.uint8 and labels.shape == (2, 65, 97)
    np.testing.assert_array_equal(labels, logits.argmax(-1))


def test_prob_head_is_softmax_of_logits(model, frames):
    logits = model(frames.astype(np.float32), training=False).numpy()
    out = build_head(model, "prob")(frames)
    assert list(out) == [PROBABILITIES, LABELS]  # the SavedModel signature's order
    np.testing.assert_allclose(out[PROBABILITIES].numpy(), softmax(logits), atol=1e-6)
    np.testing.assert_array_equal(out[LABELS].numpy(), logits.argmax(-1))


@pytest.mark.slow  # over ~2 s on 2 cores: make test runs it, make test-fast does not
@pytest.mark.parametrize("name", ["ffnet18_dAAC", "ffnet40S_BCC_mobile"])
def test_head_works_for_ffnet(name, frames):
    ffnet = build_model(name, num_classes=5)
    logits = ffnet(frames.astype(np.float32), training=False).numpy()
    out = build_head(ffnet, "prob")(frames)
    np.testing.assert_array_equal(out[LABELS].numpy(), logits.argmax(-1))
    np.testing.assert_allclose(out[PROBABILITIES].numpy(), softmax(logits), atol=1e-6)


@pytest.mark.slow  # over ~2 s on 2 cores: make test runs it, make test-fast does not
def test_head_at_another_size_resizes_the_low_res_logits_once(model, frames):
    low = low_res_logits(model)(frames.astype(np.float32), training=False)
    size = (130, 194)
    want = tf.argmax(tf.image.resize(low, size, method="bilinear"), -1).numpy()
    got = head_at_size(model)(frames.astype(np.float32), tf.constant(size))
    assert got.dtype == tf.uint8 and got.shape == (2, *size)
    np.testing.assert_array_equal(got.numpy(), want)


@pytest.mark.slow  # over ~2 s on 2 cores: make test runs it, make test-fast does not
@pytest.mark.parametrize("mode", ["cls", "prob"])
def test_head_at_the_input_size_is_the_exported_head(model, frames, mode):
    got = head_at_size(model, mode)(frames, tf.constant(frames.shape[1:3]))
    want = build_head(model, mode)(frames)
    tf.nest.map_structure(np.testing.assert_array_equal, got, want)


def test_head_outputs_is_plain_tensor_code():
    logits = tf.constant(np.random.default_rng(1).normal(size=(1, 3, 4, 6)), tf.float32)
    out = head_outputs(logits, (3, 4), "prob")
    np.testing.assert_array_equal(out[LABELS].numpy(), logits.numpy().argmax(-1))
    np.testing.assert_allclose(out[PROBABILITIES].numpy(), softmax(logits.numpy()), atol=1e-6)


def test_fixed_size_head_has_static_shape(model):
    head = build_head(model, "cls", input_size=(64, 96))
    assert tuple(head.input.shape) == (None, 64, 96, 3) and head.input.dtype == "uint8"
    assert tuple(head.output.shape) == (None, 64, 96)


def test_unknown_mode_is_rejected(model):
    for make in (lambda: build_head(model, "logits"), lambda: head_at_size(model, "logits")):
        with pytest.raises(ValueError, match="mode"):
            make()


@pytest.mark.slow  # runs export, evaluation, predict, speed and QAT: ~5 s on 2 cores
def test_every_inference_path_calls_the_one_head(model, frames, monkeypatch, tmp_path):
    """Export, evaluation, prediction, the speed benchmark and QAT all compute their outputs with
    `head_outputs`: replacing it changes what each of them returns."""
    import fast_scnn_tf.model.head as head_module
    from benchmarks import speed
    from fast_scnn_tf.data.classes import ClassTable, default_colors
    from fast_scnn_tf.evaluation import evaluate
    from fast_scnn_tf.export import qat
    from fast_scnn_tf.predict.predictor import load_predictor
    from fast_scnn_tf.training.checkpoint import BEST_DIR

    real = head_module.head_outputs

    def every_label_is_4(logits, size, mode="cls", two_bands=False):
        return real(logits * 0.0 + tf.one_hot(4, logits.shape[-1]), size, mode, two_bands)

    monkeypatch.setattr(head_module, "head_outputs", every_label_is_4)
    monkeypatch.setattr(qat, "head_outputs", every_label_is_4)  # qat imports it by name
    image = frames[:1, :64, :96]

    fabricate.run_folder(tmp_path, num_classes=5, folder=BEST_DIR)
    classes = ClassTable(names=tuple("abcde"), colors=default_colors(5))
    frames_ds = tf.data.Dataset.from_tensors((image.astype(np.float32), image[..., 0] * 0))
    outputs = {
        "export": build_head(model, "cls")(image).numpy()[0],
        "evaluation": np.argmax(
            evaluate(model, frames_ds, classes, progress=False)["confusion"][0]
        ),
        "predict": load_predictor(str(tmp_path))[0](image[0]),
        "speed": speed.head_function(model, "cls")(image).numpy()[0],
        "qat": qat.qat_head(qat.mirror_model(model, (64, 96)), "cls", (64, 96))(image).numpy()[0],
    }
    for path, labels in outputs.items():
        assert np.all(np.asarray(labels) == 4), path


def _plain_labels(logits, size):
    return head_outputs(tf.constant(logits), size, CLS).numpy()


@pytest.mark.parametrize(
    "low, size",
    [
        ((16, 24), (128, 192)),  # Fast-SCNN's 8x
        ((7, 5), (28, 20)),  # FFNet's 4x, an odd number of low-res rows
        ((3, 4), (24, 32)),  # the fewest rows with a middle
        ((2, 3), (16, 24)),
        ((6, 6), (6, 6)),  # no upsampling at all
        ((6, 4), (18, 12)),  # 3x: not a power of two, the one-piece head
        ((16, 24), (125, 190)),  # not a multiple of the low-res size: the one-piece head
        ((1, 4), (8, 32)),  # one low-res row: the one-piece head
    ],
)
def test_two_band_labels_are_the_one_piece_labels_bit_for_bit(low, size):
    rng = np.random.default_rng(sum(low) + sum(size))
    logits = rng.standard_normal((2, *low, 11)).astype(np.float32)
    logits[..., 7] = logits[..., 3]  # exact ties everywhere: the first of them wins in both
    logits[1, ::2] = 0.5  # and rows where every class ties
    two_bands = tf.function(two_band_labels)  # dynamic shapes, as the SavedModel traces it
    got = two_bands(tf.constant(logits), tf.constant(size)).numpy()
    np.testing.assert_array_equal(got, _plain_labels(logits, size))
    assert got.dtype == np.uint8 and got.shape == (2, *size)


def test_two_band_labels_trace_once_for_every_size():
    two_bands = tf.function(
        two_band_labels,
        input_signature=[
            tf.TensorSpec([None, None, None, 5], tf.float32),
            tf.TensorSpec([2], tf.int32),
        ],
    )
    rng = np.random.default_rng(0)
    for low, size in (((8, 8), (64, 64)), ((9, 5), (36, 20)), ((5, 5), (17, 17))):
        logits = rng.standard_normal((1, *low, 5)).astype(np.float32)
        got = two_bands(tf.constant(logits), tf.constant(size)).numpy()
        np.testing.assert_array_equal(got, _plain_labels(logits, size))
    assert two_bands.experimental_get_tracing_count() == 1


def test_the_saved_models_head_is_two_bands_and_tflites_is_one_piece(model):
    from fast_scnn_tf.export.exporter import serving_head

    assert serving_head(model, CLS).get_layer(LABELS).two_bands
    assert not build_head(model, CLS, input_size=(64, 96)).get_layer(LABELS).two_bands
