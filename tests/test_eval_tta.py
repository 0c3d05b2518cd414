"""Test-time augmentation: softmax averaged over a horizontal flip and a list of scales."""

import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

import evaluate as evaluate_cli
from fast_scnn_tf.cli import check_tta_scales
from fast_scnn_tf.evaluation import evaluate
from fast_scnn_tf.evaluation.tta import tta_at_size
from fast_scnn_tf.model import build_fast_scnn
from fast_scnn_tf.model.head import head_at_size, low_res_logits
from paths import ROOT
from test_eval_evaluator import CLASSES, NUM_CLASSES, dataset_of

SIZE = (64, 96)


@pytest.fixture(scope="module")
def network():
    return build_fast_scnn(num_classes=NUM_CLASSES)


def random_images(seed=0, size=SIZE):
    return np.random.default_rng(seed).uniform(0, 255, (1, *size, 3)).astype(np.float32)


@pytest.mark.slow  # over ~2 s on 2 cores: make test runs it, make test-fast does not
def test_one_scale_without_flip_is_the_plain_head(network):
    images = random_images(1)
    got = tta_at_size(network, (1.0,), flip=False)(images, SIZE)
    np.testing.assert_array_equal(got, head_at_size(network)(images, SIZE))


@pytest.mark.slow  # over ~2 s on 2 cores: make test runs it, make test-fast does not
def test_flip_of_a_flip_symmetric_input_changes_nothing(network):
    # The network is not mirror-symmetric, so its own prediction of such a frame is not either;
    # averaged with the mirrored view's prediction, mirrored back, it is, to the last bit.
    half = random_images(2, (SIZE[0], SIZE[1] // 2))
    symmetric = np.concatenate([half, half[:, :, ::-1]], axis=2)
    plain = tta_at_size(network)(symmetric, SIZE).numpy()
    assert (plain != plain[:, :, ::-1]).any()
    labels = tta_at_size(network, (1.0,), flip=True)(symmetric, SIZE).numpy()
    np.testing.assert_array_equal(labels, labels[:, :, ::-1])


@pytest.mark.slow  # several network passes at two scales (~5 s)
def test_flip_tta_of_a_mirrored_frame_is_the_mirrored_prediction(network):
    # Resizing a mirrored frame is its mirrored resize only up to float rounding: near-ties may
    # go either way.
    images = random_images(3)
    tta = tta_at_size(network, (0.5, 1.0), flip=True)
    mirrored = tta(images[:, :, ::-1].copy(), SIZE).numpy()
    assert (mirrored == tta(images, SIZE).numpy()[:, :, ::-1]).mean() > 0.999


@pytest.mark.slow  # several network passes at two scales (~5 s)
def test_tta_averages_the_softmax_of_every_view_at_the_label_size(network):
    images = random_images(4)
    label_size = (2 * SIZE[0], 2 * SIZE[1])
    features = low_res_logits(network)
    total = 0
    for scale in (0.75, 1.0):
        size = [round(SIZE[0] * scale), round(SIZE[1] * scale)]
        scaled = tf.image.resize(images, size, method="bilinear") if scale != 1 else images
        for flipped in (False, True):
            view = scaled[:, :, ::-1] if flipped else scaled
            logits = tf.image.resize(features(view, training=False), label_size, "bilinear")
            probabilities = tf.nn.softmax(logits).numpy()
            total = total + (probabilities[:, :, ::-1] if flipped else probabilities)
    # Labels are compared where the two best classes differ by more than float32 rounding of a
    # sum of four probabilities (an untrained network's are close to uniform).
    top2 = np.sort(total, -1)[..., -2:]
    clear = top2[..., 1] - top2[..., 0] > 1e-6
    want = np.argmax(total, -1)
    got = tta_at_size(network, (0.75, 1.0), flip=True)(images, label_size).numpy()
    assert got.dtype == np.uint8
    assert clear.mean() > 0.8
    np.testing.assert_array_equal(got[clear], want[clear])


@pytest.mark.slow  # several network passes at two scales (~5 s)
def test_evaluate_scores_the_tta_prediction(network):
    images = random_images(5)
    label = np.zeros(SIZE, np.uint8)
    seen = []
    evaluate(
        network,
        dataset_of([images[0]], [label], names=["f"]),
        CLASSES,
        progress=False,
        on_prediction=lambda n, im, p: seen.append(p),
        tta_scales=(0.5, 1.0),
        tta_flip=True,
    )
    want = tta_at_size(network, (0.5, 1.0), flip=True)(images, SIZE).numpy()[0]
    np.testing.assert_array_equal(seen[0], want)


@pytest.mark.parametrize(
    "scales, message",
    [
        ((), "at least one scale"),
        ((0.0,), "0"),
        ((-1.0,), "-1"),
        ((5.0,), "5"),
        ((1.0, 1.0), "twice"),
        (tuple(0.25 * i for i in range(1, 11)), "at most 8"),
    ],
)
def test_bad_scale_lists_are_refused(scales, message):
    with pytest.raises(ValueError, match=message):
        check_tta_scales(scales)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--tta-scales", "0"], "--tta-scales"),
        (["--tta-scales", "1", "1"], "--tta-scales"),
        (["--tta-scales", "x"], "--tta-scales"),
    ],
)
def test_evaluate_cli_refuses_bad_scales_with_the_flag_named(tmp_path, capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        evaluate_cli.parse_args(["--checkpoint", str(tmp_path)] + argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_metrics_file_of_a_tta_run_has_its_own_name():
    assert evaluate_cli.metrics_filename("test", 1.0, False, tta=True) == "metrics_test_tta.json"
    assert evaluate_cli.metrics_filename("test", 1.0, False) == "metrics_test.json"


def test_bad_scales_are_refused_before_tensorflow_starts(tmp_path):
    # An argument error is answered at once: TensorFlow takes seconds to import.
    code = (
        "import sys, evaluate\n"
        "try:\n"
        f"    evaluate.parse_args(['--checkpoint', {str(tmp_path)!r}, '--tta-scales', '0'])\n"
        "except SystemExit:\n"
        "    assert 'tensorflow' not in sys.modules, 'tensorflow imported'\n"
        "else:\n"
        "    raise AssertionError('not refused')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "--tta-scales" in result.stderr
