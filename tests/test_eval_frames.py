"""What evaluate() iterates: labelled splits from the pipeline, unlabelled ones (Cityscapes test)
decoded and scaled exactly as the pipeline does, with an all-ignore label at full size."""

import dataclasses

import numpy as np
import pytest

from fast_scnn_tf.config import DataConfig
from fast_scnn_tf.data import build_dataset
from fast_scnn_tf.data.classes import IGNORE_LABEL
from fast_scnn_tf.evaluation import evaluation_frames, unlabelled_frames


@pytest.fixture(scope="module")
def data(synthetic_cityscapes):
    return DataConfig(data_dir=synthetic_cityscapes(num_train=1, num_val=2, size=(50, 90)))


@pytest.mark.parametrize("scale", [1.0, 0.5, 0.25])
def test_unlabelled_frames_are_the_pipelines_images(data, scale):
    piped = list(
        build_dataset(data, "val", training=False, batch_size=1, scale=scale, with_names=True)
    )
    unlabelled = list(unlabelled_frames(data, "val", scale))
    assert len(unlabelled) == len(piped) == 2
    for (image, label, name), (want_image, want_label, want_name) in zip(unlabelled, piped):
        assert name.numpy() == want_name.numpy()
        assert image.dtype == want_image.dtype
        np.testing.assert_array_equal(image.numpy(), want_image.numpy())
        assert label.shape == want_label.shape == (1, 50, 90)
        assert np.all(label.numpy() == IGNORE_LABEL)


def test_evaluation_frames_picks_the_source_by_split(data):
    labelled = evaluation_frames(data, "val", 0.5)
    assert int(labelled.cardinality()) == 2
    assert np.any(next(iter(labelled))[1].numpy() != IGNORE_LABEL)


def test_unlabelled_frames_need_image_files(data):
    with pytest.raises(ValueError, match="--source folder"):
        unlabelled_frames(dataclasses.replace(data, source="tfds"), "test")
