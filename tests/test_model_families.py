"""The model contract (fast_scnn_tf/model/contract.py), checked for every registered family: a new
family gets this whole battery by its entry in `families.FAMILIES`. The heavy checks (forward at
odd sizes, one training step, checkpoint and .keras save/load, TFLite export) build each family's
small `test_variant` at tiny sizes; the table's own checks cover every variant. The TFLite export is
marked slow (10-25 s a family on 2 cores; test_export_tflite keeps a fast float one)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from fast_scnn_tf.export import tflite
from fast_scnn_tf.model import inference_model
from fast_scnn_tf.model.contract import LOGITS
from fast_scnn_tf.model.families import FAMILIES, MODEL_NAMES, build_model, family_of
from fast_scnn_tf.model.head import CLS, LABELS, build_head, low_res_logits
from fast_scnn_tf.model.layers import Normalize, ResizeLike
from fast_scnn_tf.training.losses import training_loss

CLASSES = 3
SIZES = [(37, 51), (64, 33)]  # odd, and not multiples of any stride (Fast-SCNN needs >= 32)


def _images(height, width, batch=1, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, (batch, height, width, 3)).astype(np.float32)


@pytest.fixture(scope="module", params=list(FAMILIES))
def family(request):
    return FAMILIES[request.param]


@pytest.fixture(scope="module")
def model(family):
    keras.utils.set_random_seed(0)
    return build_model(family.test_variant, num_classes=CLASSES)


@pytest.fixture(scope="module")
def training(family):
    keras.utils.set_random_seed(0)
    return build_model(family.test_variant, num_classes=CLASSES, aux=True)


def test_the_table_names_every_model_once_with_its_published_numbers():
    assert len(MODEL_NAMES) == len(set(MODEL_NAMES))
    for family in FAMILIES.values():
        assert family.test_variant in family.variants
        assert LOGITS not in family.aux_heads
        for name, published in family.variants.items():
            assert family_of(name) is family
            assert len(published.input_size) == 2 and min(published.input_size) >= 32
            assert published.val_miou is None or (0 < published.val_miou < 100 and published.source)
    with pytest.raises(ValueError, match="unknown model 'nope'"):
        family_of("nope")


@pytest.mark.slow  # over ~2 s on 2 cores: make test runs it, make test-fast does not
def test_inference_model_meets_the_contract(model):
    assert model.layers[0].name == "image"
    assert any(isinstance(layer, Normalize) for layer in model.layers)  # normalises inside
    last = model.get_layer(LOGITS)
    assert isinstance(last, ResizeLike) and model.layers[-1] is last
    for height, width in SIZES:
        images = _images(height, width, batch=2)
        logits = model(images, training=False)
        assert logits.dtype == tf.float32 and tuple(logits.shape) == (2, height, width, CLASSES)
        assert np.isfinite(logits.numpy()).all()
        low = low_res_logits(model)(images, training=False)
        assert low.shape[1] < height and low.shape[2] < width and low.shape[3] == CLASSES
    # RGB 0..255 in any dtype: uint8 frames give the float frames' logits.
    images = _images(*SIZES[0]).round()
    np.testing.assert_allclose(
        model(images.astype(np.uint8), training=False), model(images, training=False), atol=1e-5
    )


def test_training_model_outputs_logits_and_the_aux_heads_at_input_size(family, model, training):
    outputs = training(_images(*SIZES[0]), training=False)
    assert sorted(outputs) == sorted((LOGITS, *family.aux_heads))
    for value in outputs.values():
        assert value.dtype == tf.float32 and tuple(value.shape) == (1, *SIZES[0], CLASSES)
    assert inference_model(training).count_params() == model.count_params()


@pytest.mark.slow  # over ~2 s on 2 cores: make test runs it, make test-fast does not
def test_one_training_step_lowers_the_loss_on_its_batch(training):
    images = _images(*SIZES[0], batch=2)
    labels = np.random.default_rng(1).integers(0, CLASSES, (2, *SIZES[0])).astype(np.uint8)
    labels[:, :4] = 255  # ignored pixels
    optimizer = keras.optimizers.SGD(0.01, momentum=0.9)

    def loss():
        return training_loss(
            training(images, training=True), labels, [], aux_weight=0.4, weight_decay=0.0
        )["loss"]

    with tf.GradientTape() as tape:
        before = loss()
    grads = tape.gradient(before, training.trainable_variables)
    assert all(g is not None for g in grads)
    optimizer.apply_gradients(zip(grads, training.trainable_variables))
    assert np.isfinite(before.numpy()) and float(loss()) < float(before)


@pytest.mark.slow  # over ~2 s on 2 cores: make test runs it, make test-fast does not
def test_a_run_checkpoint_restores_into_a_fresh_training_model(family, training, tmp_path):
    """Runs store the training model (checkpoint.make_checkpoint); loading restores it into a
    freshly built one and takes the inference model from it."""
    path = tf.train.Checkpoint(model=training).write(str(tmp_path / "ckpt"))
    fresh = build_model(family.test_variant, num_classes=CLASSES, aux=True)
    tf.train.Checkpoint(model=fresh).read(path).assert_existing_objects_matched()
    images = _images(*SIZES[1])
    np.testing.assert_allclose(
        inference_model(fresh)(images, training=False),
        inference_model(training)(images, training=False),
        atol=1e-5,
    )


@pytest.mark.slow  # over ~2 s on 2 cores: make test runs it, make test-fast does not
def test_keras_file_round_trip(model, tmp_path):
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    images = _images(*SIZES[1])
    np.testing.assert_allclose(
        loaded(images, training=False), model(images, training=False), atol=1e-5
    )


@pytest.mark.slow  # over ~2 s on 2 cores: make test runs it, make test-fast does not
def test_the_qat_claim_holds_both_ways(family, model):
    """`qat` is a checked claim: with True, export/qat.py mirrors every layer of the family into
    tf_keras; with False, the mirror refuses it in one line (so the flag cannot go stale)."""
    from fast_scnn_tf.export.qat import mirror_model

    if not family.qat:
        with pytest.raises(ValueError, match="no tf_keras mirror for layer"):
            mirror_model(model)
        return
    images = _images(*SIZES[0])
    np.testing.assert_allclose(
        mirror_model(model)(images, training=False), model(images, training=False), atol=1e-4
    )


@pytest.mark.slow
def test_float_tflite_export_gives_the_keras_labels(model):
    size = SIZES[0]
    head = build_head(model, CLS, size)
    interp = tflite.interpreter(tflite.convert(head, "none"))
    frame = _images(*size).astype(np.uint8)
    got = tflite.run(interp, frame)[LABELS]
    want = head(frame).numpy()
    assert got.shape == want.shape == (1, *size)
    assert (got == want).mean() > 0.99


def test_the_package_root_builds_every_family_by_name():
    import fast_scnn_tf

    assert fast_scnn_tf.build_model is build_model
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        fast_scnn_tf.nope  # noqa: B018


def test_a_family_that_converts_foreign_weights_names_its_largest_variant():
    convertible = [f for f in FAMILIES.values() if f.foreign_weights]
    assert convertible  # FFNet's official weights
    for family in convertible:
        weights = family.foreign_weights
        assert callable(weights.convert) and weights.source
        assert weights.largest_variant in family.variants and weights.largest_values > 0
