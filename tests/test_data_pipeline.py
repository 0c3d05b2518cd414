"""build_dataset on tiny synthetic frames: the output contract, determinism, resume, bad files."""

import os
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest
import tensorflow as tf

from cityscapes_ids import id_to_train_id_table  # tests/ is on sys.path under pytest
from fast_scnn_tf.config import DataConfig
from fast_scnn_tf.data import build_dataset, num_frames
from fast_scnn_tf.data import cityscapes_labels as labels
from fast_scnn_tf.data.cityscapes_layout import list_frames

SIZE = (48, 80)
NUM_TRAIN, NUM_VAL = 5, 3
TRAIN_IDS = set(range(labels.NUM_CLASSES)) | {labels.IGNORE_LABEL}


@pytest.fixture(scope="module")
def root(synthetic_cityscapes):
    return synthetic_cityscapes(NUM_TRAIN, NUM_VAL, size=SIZE, seed=3)


def config(root, **kwargs):
    return DataConfig(data_dir=root, crop_size=(32, 40), deterministic=True, **kwargs)


def as_numpy(dataset):
    return [tuple(np.asarray(t) for t in element) for element in dataset]


def test_training_batches_follow_the_contract(root):
    ds = build_dataset(config(root), "train", True, 2)
    batches = as_numpy(ds)
    assert len(batches) == NUM_TRAIN // 2  # partial batch dropped
    for image, label in batches:
        assert image.shape == (2, 32, 40, 3) and image.dtype == np.float32
        assert label.shape == (2, 32, 40) and label.dtype == np.uint8
        assert 0.0 <= image.min() and image.max() <= 255.0
        assert set(np.unique(label)) <= TRAIN_IDS


def test_training_epoch_visits_every_frame_once(root):
    ds = build_dataset(
        config(root, min_scale=1.0, max_scale=1.0), "train", True, 1, with_names=True
    )
    names = [name[0] for _, _, name in as_numpy(ds)]
    assert sorted(names) == sorted(
        os.path.basename(image)[: -len("_leftImg8bit.png")].encode()
        for image, _ in list_frames(root, "train")
    )


def test_epochs_are_shuffled_differently(root):
    ds = build_dataset(config(root), "train", True, 1, repeat=True, with_names=True)
    names = [name[0] for _, _, name in as_numpy(ds.take(3 * NUM_TRAIN))]
    epochs = [names[i * NUM_TRAIN : (i + 1) * NUM_TRAIN] for i in range(3)]
    assert all(sorted(e) == sorted(epochs[0]) for e in epochs)
    assert epochs[0] != epochs[1] or epochs[1] != epochs[2]


def test_same_seed_gives_identical_batches(root):
    a = as_numpy(build_dataset(config(root), "train", True, 2, repeat=True).take(4))
    b = as_numpy(build_dataset(config(root), "train", True, 2, repeat=True).take(4))
    for (image_a, label_a), (image_b, label_b) in zip(a, b):
        np.testing.assert_array_equal(image_a, image_b)
        np.testing.assert_array_equal(label_a, label_b)


def test_other_seed_gives_other_batches(root):
    a = as_numpy(build_dataset(config(root), "train", True, 2, seed=1).take(1))
    b = as_numpy(build_dataset(config(root), "train", True, 2, seed=2).take(1))
    assert not np.array_equal(a[0][0], b[0][0])


def test_skip_batches_resumes_exactly_across_epochs(root):
    full = as_numpy(build_dataset(config(root), "train", True, 2, repeat=True).take(6))
    resumed = as_numpy(
        build_dataset(config(root), "train", True, 2, repeat=True, skip_batches=3).take(3)
    )
    for (image_a, label_a), (image_b, label_b) in zip(full[3:], resumed):
        np.testing.assert_array_equal(image_a, image_b)
        np.testing.assert_array_equal(label_a, label_b)


def test_evaluation_keeps_full_frames_in_file_order(root):
    ds = build_dataset(config(root), "val", False, 1, with_names=True)
    elements = as_numpy(ds)
    pairs = list_frames(root, "val")
    assert len(elements) == NUM_VAL
    for (image, label, name), (image_path, label_path) in zip(elements, pairs):
        assert name[0].decode() in image_path
        np.testing.assert_array_equal(image[0], cv2.imread(image_path)[:, :, ::-1])
        label_ids = cv2.imread(label_path, cv2.IMREAD_UNCHANGED)
        np.testing.assert_array_equal(label[0], id_to_train_id_table()[label_ids])


@pytest.mark.parametrize("scale", [0.5, 0.25])
def test_evaluation_scale_resizes_image_not_label(root, scale):
    image, label = as_numpy(build_dataset(config(root), "val", False, 1, scale=scale).take(1))[0]
    assert image.shape == (1, round(SIZE[0] * scale), round(SIZE[1] * scale), 3)
    assert label.shape == (1,) + SIZE


@pytest.mark.parametrize("scale", [1.0, 0.5])
def test_unlabelled_frames_are_the_evaluation_images_with_an_all_ignore_label(root, scale):
    """A split without public labels (here val, its labels left unread) in the parser's
    unlabelled mode: the evaluation images and names, a full-size label that scores no pixel."""
    unlabelled = as_numpy(
        build_dataset(config(root), "val", False, 1, scale=scale, with_names=True, labelled=False)
    )
    evaluation = as_numpy(
        build_dataset(config(root), "val", False, 1, scale=scale, with_names=True)
    )
    assert len(unlabelled) == len(evaluation) == NUM_VAL
    for (image, label, name), (want_image, _, want_name) in zip(unlabelled, evaluation):
        assert name == want_name
        np.testing.assert_array_equal(image, want_image)
        assert label.shape == (1,) + SIZE and label.dtype == np.uint8
        assert np.all(label == labels.IGNORE_LABEL)


def test_unlabelled_frames_are_read_from_files_and_not_trained_on(root):
    with pytest.raises(ValueError, match="--source folder"):
        build_dataset(config(root, source="tfds"), "test", False, 1, labelled=False)
    with pytest.raises(ValueError, match="training needs labels"):
        build_dataset(config(root), "train", True, 1, labelled=False)


def test_scale_is_for_evaluation_only(root):
    with pytest.raises(ValueError, match="1 for training"):
        build_dataset(config(root), "train", True, 1, scale=0.5)


def test_num_frames_counts_the_split(root):
    assert num_frames(config(root), "train") == NUM_TRAIN
    assert num_frames(config(root), "val") == NUM_VAL


def test_test_split_has_no_labels(root):
    with pytest.raises(ValueError, match="split 'test' has no labels"):
        build_dataset(config(root), "test", False, 1)


def test_split_with_zero_frames_is_an_error(tmp_path):
    os.makedirs(tmp_path / "leftImg8bit" / "val")
    with pytest.raises(ValueError, match="zero frames"):
        build_dataset(config(str(tmp_path)), "val", False, 1)


def test_fewer_frames_than_a_batch_is_an_error_not_an_empty_epoch(root):
    with pytest.raises(ValueError, match="not one full batch"):
        build_dataset(config(root), "train", True, NUM_TRAIN + 1)


def test_unknown_source_is_an_error(root):
    with pytest.raises(ValueError, match="unknown DataConfig.source"):
        build_dataset(config(root, source="s3"), "val", False, 1)


@pytest.fixture
def copy_of(root, tmp_path):
    """A fresh copy of the val split, to be damaged by a test; returns (root, image, label)."""
    copy = str(tmp_path / "copy")
    for top in ("leftImg8bit", "gtFine"):
        shutil.copytree(os.path.join(root, top, "val"), os.path.join(copy, top, "val"))
    image, label = list_frames(copy, "val")[1]
    return copy, image, label


def read_all(data_root):
    return as_numpy(build_dataset(config(data_root), "val", False, 1))


def test_truncated_png_names_the_file(copy_of):
    data_root, image, _ = copy_of
    with open(image, "rb") as f:
        data = f.read()
    with open(image, "wb") as f:
        f.write(data[: len(data) // 2])
    with pytest.raises(tf.errors.InvalidArgumentError, match="truncated.*" + image):
        read_all(data_root)


@pytest.mark.parametrize("which", ["image", "label"])
def test_a_decompression_bomb_in_a_dataset_is_refused_before_decoding(copy_of, which):
    # A 1 kB PNG may declare 20000x20000 pixels (1.2 GB decoded): the header is checked first.
    from image_headers import png_claiming

    data_root, image, label = copy_of
    path = image if which == "image" else label
    with open(path, "wb") as f:
        f.write(png_claiming(20000, 20000))
    with pytest.raises(tf.errors.InvalidArgumentError, match="20000x20000.*over.*" + path):
        read_all(data_root)


def test_file_that_is_not_a_png_names_the_file(copy_of):
    data_root, _, label = copy_of
    with open(label, "wb") as f:
        f.write(b"this is not an image")
    with pytest.raises(tf.errors.InvalidArgumentError, match="not a PNG file.*" + label):
        read_all(data_root)


def test_size_mismatch_names_both_files(copy_of):
    data_root, image, label = copy_of
    cv2.imwrite(label, np.zeros((SIZE[0] - 1, SIZE[1]), np.uint8))
    with pytest.raises(tf.errors.InvalidArgumentError) as e:
        read_all(data_root)
    assert "sizes differ" in e.value.message
    assert image in e.value.message and label in e.value.message


def test_colour_label_png_is_rejected(copy_of):
    data_root, _, label = copy_of
    cv2.imwrite(label, np.zeros(SIZE + (3,), np.uint8))
    with pytest.raises(tf.errors.InvalidArgumentError, match="not single-channel.*" + label):
        read_all(data_root)


@pytest.mark.slow  # a child process importing TensorFlow, ~4 s on 2 cores
def test_folder_source_never_imports_tensorflow_datasets(root):
    """tfds (slow to import, only for --data-source tfds) stays out of folder-source runs."""
    code = (
        "import sys; from fast_scnn_tf.config import DataConfig; "
        "from fast_scnn_tf.data import build_dataset, num_frames; "
        "import fast_scnn_tf.training, fast_scnn_tf.evaluation, fast_scnn_tf.export; "
        f"cfg = DataConfig(data_dir={root!r}, crop_size=(32, 40)); num_frames(cfg, 'train'); "
        "next(iter(build_dataset(cfg, 'train', True, 2, seed=0))); "
        "assert 'tensorflow_datasets' not in sys.modules, 'tfds imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
