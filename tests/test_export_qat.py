"""QAT: the tf_keras mirror equals the Keras 3 model; a few QAT steps give a loadable int8 model."""

import subprocess
import sys

import numpy as np
import pytest

from fast_scnn_tf.model import build_fast_scnn
from test_export_tflite import float_ops

SIZE = (64, 96)


@pytest.mark.slow  # a child process importing TensorFlow, ~4 s on 2 cores
def test_importing_the_package_does_not_import_tfmot():
    code = (
        "import sys, fast_scnn_tf.export, fast_scnn_tf.training.checkpoint; "
        "assert 'tensorflow_model_optimization' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.fixture(scope="module")
def model():
    return build_fast_scnn(num_classes=5)


@pytest.mark.slow  # over ~2 s on 2 cores: make test runs it, make test-fast does not
def test_mirror_reproduces_keras3_model(model):
    from fast_scnn_tf.export.qat import mirror_model

    frames = np.random.default_rng(0).integers(0, 256, (2, 65, 97, 3)).astype(np.float32)
    mirror = mirror_model(model)
    assert mirror.count_params() == model.count_params()
    np.testing.assert_allclose(
        mirror(frames, training=False).numpy(), model(frames, training=False).numpy(), atol=1e-5
    )


@pytest.mark.slow
def test_qat_few_steps_exports_int8_that_agrees_with_the_trained_model(
    trained_model, scene_frames, tmp_path
):
    """On a trained model (tests/conftest.py), held to the documented qat_int8 threshold: QAT from
    ranges calibrated on all-zero frames agrees on ~16% of the pixels and fails it."""
    from fast_scnn_tf.config import Config
    from fast_scnn_tf.export import tflite
    from fast_scnn_tf.export.qat import export_qat_tflite
    from fast_scnn_tf.export.validate import MIN_AGREEMENT
    from fast_scnn_tf.model.head import build_head

    report = export_qat_tflite(
        trained_model,
        Config(),
        str(tmp_path),
        "cls",
        SIZE,
        scene_frames,
        "synthetic",
        steps=1,
        calibration_steps=4,
    )
    assert report["threshold"] == MIN_AGREEMENT["qat_int8"] == 0.95
    assert report["agreement"] >= MIN_AGREEMENT["qat_int8"] and report["frames"] == 8
    interp = tflite.interpreter(report["path"], delegate=False)
    assert float_ops(interp) <= tflite.INT8_BOUNDARY_OPS
    labels = tflite.run(interp, scene_frames[0])["labels"]
    assert labels.dtype == np.uint8 and labels.shape == (1, *SIZE)
    want = build_head(trained_model, "cls", SIZE)(scene_frames[0]).numpy()
    assert len(np.unique(want)) >= 3 and np.mean(labels == want) >= 0.95


@pytest.mark.slow  # over ~2 s on 2 cores: make test runs it, make test-fast does not
@pytest.mark.parametrize("mode", ["cls", "prob"])
def test_qat_head_is_the_shared_head(model, mode):
    """Around the (unquantised) mirror, the tf_keras QAT head returns what the Keras head does:
    the same outputs, named and ordered alike, equal up to the mirror's float round-off."""
    from fast_scnn_tf.export.qat import mirror_model, qat_head
    from fast_scnn_tf.model.head import build_head

    frames = np.random.default_rng(2).integers(0, 256, (2, *SIZE, 3)).astype(np.uint8)
    got = qat_head(mirror_model(model, SIZE), mode, SIZE)(frames)
    want = build_head(model, mode, SIZE)(frames)
    if mode == "cls":
        got, want = {"labels": got}, {"labels": want}
    assert list(got) == list(want)
    assert got["labels"].dtype == want["labels"].dtype == "uint8"
    assert np.mean(got["labels"].numpy() == want["labels"].numpy()) > 0.999
    if mode == "prob":
        np.testing.assert_allclose(
            got["probabilities"].numpy(), want["probabilities"].numpy(), atol=1e-5
        )
