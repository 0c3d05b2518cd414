"""The evaluation loop: whole-split accumulation, reduced-scale scoring, the skip ablation."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from fast_scnn_tf.data.classes import ClassTable, default_colors
from fast_scnn_tf.evaluation import ablate_skip, evaluate
from fast_scnn_tf.evaluation.metrics import compute_metrics, confusion_matrix
from fast_scnn_tf.model import build_fast_scnn
from fast_scnn_tf.model.fast_scnn import LOGITS, SKIP_BN
from fast_scnn_tf.model.head import build_head, low_res_logits
from fast_scnn_tf.model.layers import ResizeLike

NUM_CLASSES = 4
CLASSES = ClassTable(names=("a", "b", "c", "d"), colors=default_colors(4))


def oracle_model():
    """Logits that predict the class written (as 0..3) in the image's red channel, at the image's
    size, ending as every model of this project does in a `ResizeLike` named `logits`."""
    images = keras.Input((None, None, 3))
    logits = keras.layers.Lambda(
        lambda x: tf.one_hot(tf.cast(x[..., 0], tf.int32), NUM_CLASSES) * 10.0
    )(images)
    return keras.Model(images, ResizeLike(name=LOGITS)([logits, images]))


def labelled_frames(shapes, seed=0):
    rng = np.random.default_rng(seed)
    frames = []
    for height, width in shapes:
        label = rng.integers(0, NUM_CLASSES, (height, width)).astype(np.uint8)
        label[0, :3] = 255
        frames.append(label)
    return frames


def dataset_of(images, labels, names=None):
    def gen():
        for i, (image, label) in enumerate(zip(images, labels)):
            element = (image[None].astype(np.float32), label[None])
            yield element + ((np.array([names[i]]),) if names else ())

    spec = (tf.TensorSpec([1, None, None, 3], tf.float32), tf.TensorSpec([1, None, None], tf.uint8))
    if names:
        spec += (tf.TensorSpec([1], tf.string),)
    return tf.data.Dataset.from_generator(gen, output_signature=spec)


def test_confusion_is_accumulated_over_frames_not_averaged():
    labels = labelled_frames([(33, 47), (20, 64)])
    # The model predicts class 0 everywhere: frames of different sizes weigh by pixels.
    images = [np.zeros(label.shape + (3,), np.float32) for label in labels]
    result = evaluate(oracle_model(), dataset_of(images, labels), CLASSES, progress=False)
    expected = sum(
        confusion_matrix(label, np.zeros_like(label), NUM_CLASSES).numpy() for label in labels
    )
    np.testing.assert_array_equal(result["confusion"], expected)
    assert result["miou"] == pytest.approx(compute_metrics(expected, None)["miou"])
    assert result["num_frames"] == 2


def test_reduced_scale_scores_upsampled_prediction_against_full_labels():
    # Labels are 2x2 blocks of one class; the image is fed at half size, one pixel per block.
    blocks = np.random.default_rng(3).integers(0, NUM_CLASSES, (16, 24)).astype(np.uint8)
    label = np.kron(blocks, np.ones((2, 2), np.uint8))
    small_image = np.repeat(blocks[..., None], 3, axis=-1)
    seen = []
    result = evaluate(
        oracle_model(),
        dataset_of([small_image], [label], names=["f"]),
        CLASSES,
        progress=False,
        on_prediction=lambda n, im, p: seen.append((im, p)),
    )
    image, prediction = seen[0]
    assert image.shape == (16, 24, 3)  # the image as fed
    assert prediction.shape == label.shape == (32, 48)  # the prediction at label size
    assert result["num_pixels"] == label.size  # every full-resolution pixel scored
    # Bilinear upsampling of one-hot logits keeps each block's class at its own pixels.
    np.testing.assert_array_equal(prediction, label)
    assert result["miou"] == 1.0


def predictions_of(model, images, labels):
    seen = []
    evaluate(
        model,
        dataset_of(images, labels, names=["f"] * len(images)),
        CLASSES,
        progress=False,
        on_prediction=lambda n, im, p: seen.append(p),
    )
    return seen


@pytest.fixture(scope="module")
def network():
    return build_fast_scnn(num_classes=NUM_CLASSES)


def test_evaluation_predicts_with_the_exported_head(network):
    image = np.random.default_rng(4).integers(0, 256, (1, 48, 80, 3)).astype(np.uint8)
    label = np.zeros((48, 80), np.uint8)
    (prediction,) = predictions_of(network, [image[0]], [label])
    np.testing.assert_array_equal(prediction, build_head(network, "cls")(image).numpy()[0])


@pytest.mark.slow  # over ~2 s on 2 cores: make test runs it, make test-fast does not
def test_reduced_scale_resizes_the_low_res_logits_to_the_label_size(network):
    """At scale 0.5 the prediction is the head's low-resolution logits resized once, bilinearly,
    to the full-size label (not to the small input first)."""
    small = np.random.default_rng(5).uniform(0, 255, (1, 40, 72, 3)).astype(np.float32)
    label = np.zeros((80, 144), np.uint8)
    (prediction,) = predictions_of(network, [small[0]], [label])
    low = low_res_logits(network)(small, training=False)
    want = tf.argmax(tf.image.resize(low, label.shape, method="bilinear"), -1).numpy()[0]
    np.testing.assert_array_equal(prediction, want)


def test_max_frames_stops_early():
    labels = labelled_frames([(8, 8)] * 3)
    images = [np.zeros((8, 8, 3), np.float32)] * 3
    result = evaluate(
        oracle_model(), dataset_of(images, labels), CLASSES, progress=False, max_frames=2
    )
    assert result["num_frames"] == 2


def fusion_probe(model):
    names = (SKIP_BN, "ffm_low_bn", "ffm_relu")
    return keras.Model(model.input, [model.get_layer(n).output for n in names])


def test_ablate_skip_removes_skip_from_fusion_output():
    model = build_fast_scnn(num_classes=5, input_shape=(64, 96, 3))
    images = np.random.default_rng(0).uniform(0, 255, (1, 64, 96, 3)).astype(np.float32)
    skip, low, fused = fusion_probe(model)(images, training=False)
    assert np.abs(skip.numpy()).max() > 0  # the skip contributes before the ablation
    ablate_skip(model)
    skip, low, fused = fusion_probe(model)(images, training=False)
    assert np.all(skip.numpy() == 0)
    np.testing.assert_array_equal(fused.numpy(), np.maximum(low.numpy(), 0))


def test_ablate_skip_makes_output_independent_of_skip_weights():
    model = build_fast_scnn(num_classes=5, input_shape=(64, 96, 3))
    images = np.random.default_rng(1).uniform(0, 255, (1, 64, 96, 3)).astype(np.float32)
    ablate_skip(model)
    before = model(images, training=False).numpy()
    conv = model.get_layer("ffm_skip_conv")
    conv.kernel.assign(conv.kernel * 3.0 + 1.0)  # change the skip path upstream of the BN
    np.testing.assert_array_equal(model(images, training=False).numpy(), before)


def test_ablate_skip_rejects_other_models():
    with pytest.raises(ValueError, match=SKIP_BN):
        ablate_skip(keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]))
