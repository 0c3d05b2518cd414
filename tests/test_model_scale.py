"""The scale a model was trained for: recorded by training, used by predict.py's predictors
(checkpoint and SavedModel), carried by exports, and evaluate.py scoring exported files."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

import evaluate
import export
import fabricate
from fast_scnn_tf.config import Config, DataConfig, ModelConfig
from fast_scnn_tf.model import build_fast_scnn
from fast_scnn_tf.model.head import CLS, head_at_size
from fast_scnn_tf.predict.predictor import load_predictor, resize_image, scaled_size
from fast_scnn_tf.training.checkpoint import load_run

NUM_CLASSES = 4


def _image(shape, seed=0):
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def _sharp_run(path, input_size, data_dir="", num_classes=NUM_CLASSES):
    """A run folder whose Fast-SCNN has decisive (not near-tied) logits. Its weights come from
    a fixed seed: with some random draws the scale changes too few labels for
    `test_checkpoint_predictor_runs_at_the_models_scale` to tell the scales apart."""
    keras.utils.set_random_seed(0)
    model = build_fast_scnn(num_classes=num_classes, aux=True)
    kernel = model.get_layer("cls_logits").kernel
    kernel.assign(kernel * 50.0)
    return fabricate.run_folder(
        path,
        config=Config(
            model=ModelConfig(num_classes=num_classes, input_size=input_size),
            data=DataConfig(data_dir=data_dir),
        ),
        model=model,
    )


def test_scale_matches_the_shorter_side_and_keeps_the_aspect():
    config = Config(model=ModelConfig(input_size=(360, 480)))
    assert scaled_size((1024, 2048), config) == (360, 720)  # a Cityscapes photo, CamVid model
    assert scaled_size((2048, 1024), config) == (720, 360)  # portrait: its shorter side
    assert scaled_size((180, 240), config) == (360, 480)  # small photos are enlarged
    assert scaled_size((1024, 2048), Config()) == (1024, 2048)  # scale not recorded
    tiny = Config(model=ModelConfig(input_size=(20, 30)))
    assert min(scaled_size((100, 200), tiny)) == 32  # never under the network's minimum


@pytest.mark.slow  # a training run (or a model build) of several seconds
def test_checkpoint_predictor_runs_at_the_models_scale(tmp_path):
    run = _sharp_run(tmp_path / "run", input_size=(32, 48))
    model = load_run(run, which="latest").model
    image = _image((96, 144, 3))
    at_size = head_at_size(model, CLS)
    expected = at_size(resize_image(image, (32, 48))[None], (96, 144))[0].numpy()
    native = at_size(image[None], (96, 144))[0].numpy()
    predict = load_predictor(run, which="latest")[0]
    labels = predict(image)
    assert labels.shape == (96, 144)
    np.testing.assert_array_equal(labels, expected)
    assert (expected != native).mean() > 0.05  # the scale changes the answer here
    np.testing.assert_array_equal(
        load_predictor(run, which="latest", native=True)[0](image), native
    )


def test_training_records_the_frame_size_times_the_input_scale(synthetic_cityscapes):
    from fast_scnn_tf.training.data_checks import with_dataset_classes

    config = Config(data=DataConfig(data_dir=synthetic_cityscapes(2, 2), input_scale=1.5))
    assert with_dataset_classes(config).model.input_size == (96, 192)  # 64x128 frames x 1.5


def test_input_scale_is_validated():
    from fast_scnn_tf.config import ConfigError

    with pytest.raises(ConfigError, match="input_scale"):
        Config(data=DataConfig(input_scale=0)).validate()


@pytest.mark.slow  # a SavedModel export and a TFLite conversion (~25 s on 2 cores)
def test_exports_carry_the_scale_and_evaluate_scores_them(synthetic_cityscapes, tmp_path, capsys):
    """export.py writes the model's scale into the metadata and sizes TFLite to it; the
    SavedModel predictor resizes to it; evaluate.py scores both exported files and agrees with
    the checkpoint."""
    data_dir = synthetic_cityscapes(2, 2)
    run = _sharp_run(tmp_path / "run", input_size=(64, 128), data_dir=data_dir, num_classes=19)
    out = tmp_path / "exports"
    for extra in ([], ["--tflite"]):
        assert (
            export.main(
                [
                    "--checkpoint",
                    run,
                    "--which",
                    "latest",
                    "--output",
                    str(out),
                    "--calibration-data",
                    data_dir,
                    *extra,
                ]
            )
            == 0
        )
    tflite_path = out / "fast_scnn_cls_float32_64x128.tflite"  # the recorded size by default
    assert tflite_path.is_file()
    metadata = json.load(open(out / "fast_scnn" / "1" / "assets.extra" / "metadata.json"))
    assert metadata["input"]["model_scale_size"] == [64, 128]

    image = _image((128, 256, 3))
    saved = tf.saved_model.load(str(out / "fast_scnn" / "1")).signatures["serving_default"]
    small = saved(images=tf.constant(resize_image(image, (64, 128))[None]))["labels"][0]
    expected = tf.image.resize(small[:, :, None], (128, 256), "nearest")[:, :, 0].numpy()
    np.testing.assert_array_equal(load_predictor(str(out / "fast_scnn"))[0](image), expected)

    common = ["--no-progress", "--data-dir", data_dir, "--output", str(tmp_path / "m")]
    assert evaluate.main(["--checkpoint", run, "--which", "latest", *common]) == 0
    for exported in (str(tflite_path), str(out / "fast_scnn")):
        assert evaluate.main(["--checkpoint", exported, *common]) == 0
    capsys.readouterr()
    by_checkpoint = json.load(open(tmp_path / "m" / "metrics.json"))
    for name in ("fast_scnn_cls_float32_64x128_metrics.json", "fast_scnn_metrics.json"):
        metrics = json.load(open(tmp_path / "m" / name))
        assert metrics["num_pixels"] == by_checkpoint["num_pixels"] > 0
        assert metrics["pixel_accuracy"] == pytest.approx(
            by_checkpoint["pixel_accuracy"], abs=1e-3
        ), name
    assert evaluate.main(["--checkpoint", str(tflite_path), "--scale", "0.5", *common]) == 1
    assert "need a checkpoint" in capsys.readouterr().err
