"""The tfds source through the trainer's own call (its global seed and per-epoch order), on
`tfds.testing.mock_data`: a run trains, stops, and resumes at the saved step."""

import pytest
import tensorflow_datasets as tfds

from fast_scnn_tf.config import Config
from fast_scnn_tf.training import train


@pytest.mark.slow
def test_training_from_tfds_runs_and_resumes(tmp_path):
    config = Config()
    for section, field, value in [
        ("data", "source", "tfds"),
        ("data", "data_dir", str(tmp_path / "manual")),
        ("data", "tfds_data_dir", str(tmp_path / "tfds")),
        ("data", "crop_size", (64, 96)),
        ("data", "min_scale", 0.1),
        ("data", "max_scale", 0.2),  # small crops: fast
        ("data", "deterministic", True),
        ("train", "batch_size", 1),
        ("train", "epochs", 2),
        ("train", "eval_every_epochs", 0),
        ("train", "checkpoint_every_steps", 100),
    ]:
        config = config.override(section, field, value)
    model_dir = str(tmp_path / "run")
    # Mock labels must stay label ids 0..33 (a larger value stops training, by design).
    with tfds.testing.mock_data(num_examples=2, max_value=34):
        first = train(config, model_dir, stop_at_step=3, progress=False)
        assert (first["start_step"], first["step"]) == (0, 3)
        second = train(config, model_dir, progress=False)
    assert (second["start_step"], second["steps_run"], second["step"]) == (3, 1, 4)
    assert second["latest_checkpoint"].endswith("ckpt-4")
