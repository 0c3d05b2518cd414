"""Datasets as one concept: the CamVid (SegNet) and own-folder layouts, their class tables and
label values, on tiny generated data in each layout."""

import os

import cv2
import numpy as np
import pytest
import tensorflow as tf

import fabricate
from fabricate import FRAME_SIZE
from fast_scnn_tf.config import DataConfig
from fast_scnn_tf.data import build_dataset, num_frames
from fast_scnn_tf.data.datasets import dataset_for
from fast_scnn_tf.data.pipeline import label_pixel_counts

# --- CamVid ---------------------------------------------------------------------------------


@pytest.mark.slow  # a few seconds: make test runs it, test-fast stays under 2 min
def test_camvid_trainval_is_train_then_val_and_trains(tmp_path):
    """The CGNet/DABNet protocol's split: every train frame, then every val frame."""
    from fast_scnn_tf.config import Config
    from fast_scnn_tf.training.data_checks import class_weights_for

    cfg = DataConfig(
        dataset="camvid",
        data_dir=fabricate.camvid(tmp_path / "CamVid"),
        train_split="trainval",
        crop_size=(32, 48),
    )
    dataset = dataset_for(cfg)
    assert dataset.list_frames(cfg.data_dir, "trainval") == (
        dataset.list_frames(cfg.data_dir, "train") + dataset.list_frames(cfg.data_dir, "val")
    )
    assert num_frames(cfg, "trainval") == 5
    images, labels = next(iter(build_dataset(cfg, "trainval", training=True, batch_size=5)))
    assert images.shape == (5, 32, 48, 3) and labels.shape == (5, 32, 48)
    config = Config(data=cfg).override("train", "class_weighting", "erfnet")
    assert class_weights_for(config).shape == (11,)


def test_camvid_pairs_frames_and_maps_void_to_ignore(tmp_path):
    cfg = DataConfig(dataset="camvid", data_dir=fabricate.camvid(tmp_path / "CamVid"))
    dataset = dataset_for(cfg)
    assert dataset.classes.num_classes == 11 and dataset.classes.names[0] == "sky"
    assert [num_frames(cfg, s) for s in ("train", "val", "test")] == [3, 2, 2]
    pairs = dataset.list_frames(cfg.data_dir, "val")
    assert pairs[0][1].endswith(os.path.join("valannot", "0001TP_000000.png"))

    _, label, name = next(iter(build_dataset(cfg, "test", False, 1, with_names=True)))
    stored = cv2.imread(pairs[0][1].replace("val", "test"), cv2.IMREAD_UNCHANGED)
    expected = np.where(stored == 11, 255, stored)
    np.testing.assert_array_equal(label.numpy()[0], expected)  # test split has labels here
    assert name.numpy()[0] == b"0001TP_000000"


def test_camvid_label_values_above_void_stop_naming_the_file(tmp_path):
    root = fabricate.camvid(tmp_path / "CamVid", counts=(1, 1, 1))
    bad = os.path.join(root, "valannot", "0001TP_000000.png")
    label = np.zeros(FRAME_SIZE, np.uint8)
    label[3, 4], label[5, 6] = 12, 40
    cv2.imwrite(bad, label)
    cfg = DataConfig(dataset="camvid", data_dir=root)
    with pytest.raises(
        tf.errors.InvalidArgumentError,
        match=r"(?s)outside the class table.*valannot/0001TP_000000\.png.*12 40",
    ):
        next(iter(build_dataset(cfg, "val", False, 1)))


def test_camvid_missing_label_and_missing_folder_are_named(tmp_path):
    root = fabricate.camvid(tmp_path / "CamVid", counts=(2, 1, 1))
    os.remove(os.path.join(root, "trainannot", "0001TP_000001.png"))
    cfg = DataConfig(dataset="camvid", data_dir=root)
    with pytest.raises(FileNotFoundError, match="0001TP_000001.png' has no label"):
        num_frames(cfg, "train")
    with pytest.raises(FileNotFoundError, match="SegNet CamVid layout"):
        num_frames(DataConfig(dataset="camvid", data_dir=str(tmp_path / "nowhere")), "train")


def test_training_batches_of_camvid_are_cropped_and_within_the_table(tmp_path):
    cfg = DataConfig(
        dataset="camvid",
        data_dir=fabricate.camvid(tmp_path / "CamVid"),
        crop_size=(32, 32),
        deterministic=True,
    )
    image, label = next(iter(build_dataset(cfg, "train", True, 2)))
    assert image.shape == (2, 32, 32, 3) and label.shape == (2, 32, 32)
    assert set(np.unique(label.numpy())) <= set(range(11)) | {255}


# --- your own folder --------------------------------------------------------------------------


def test_folder_dataset_reads_classes_nested_folders_and_jpeg(tmp_path):
    root = fabricate.own_folder(tmp_path / "mine", jpeg=True)
    cfg = DataConfig(dataset="custom", data_dir=root)
    dataset = dataset_for(cfg)
    assert dataset.classes.names == ("background", "road", "car")
    assert len(set(dataset.classes.colors)) == 3  # colours chosen for classes given without
    assert num_frames(cfg, "train") == 4
    image, label, name = next(iter(build_dataset(cfg, "val", False, 1, with_names=True)))
    assert image.shape == (1, *FRAME_SIZE, 3) and name.numpy()[0] == b"seq/street0"
    stored = cv2.imread(
        os.path.join(root, "labels", "val", "seq", "street0.png"), cv2.IMREAD_UNCHANGED
    )
    np.testing.assert_array_equal(label.numpy()[0], stored)


def test_folder_ignore_index_maps_to_the_ignore_label(tmp_path):
    cfg = DataConfig(dataset="custom", data_dir=fabricate.own_folder(tmp_path / "mine", ignore=7))
    _, label = next(iter(build_dataset(cfg, "val", False, 1)))
    assert set(np.unique(label.numpy()[0, 0])) == {255}
    counts = label_pixel_counts(cfg, "train")
    assert counts[-1] == 4 * FRAME_SIZE[1] and counts.sum() == 4 * FRAME_SIZE[0] * FRAME_SIZE[1]


def test_folder_label_value_outside_the_classes_names_the_file(tmp_path):
    root = fabricate.own_folder(tmp_path / "mine")
    path = os.path.join(root, "labels", "train", "seq", "street2.png")
    label = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    label[5, 5] = 3  # only 0..2 are classes, 255 is the ignore value
    cv2.imwrite(path, label)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"(?s)street2\.png.*values found.*3"):
        label_pixel_counts(DataConfig(dataset="custom", data_dir=root), "train")


def test_sixteen_bit_labels_keep_their_values(tmp_path):
    root = fabricate.own_folder(tmp_path / "mine", counts=(1, 1))
    path = os.path.join(root, "labels", "val", "seq", "street0.png")
    label8 = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    cv2.imwrite(path, label8.astype(np.uint16))  # same values, 16-bit PNG
    assert cv2.imread(path, cv2.IMREAD_UNCHANGED).dtype == np.uint16
    _, label = next(
        iter(build_dataset(DataConfig(dataset="custom", data_dir=root), "val", False, 1))
    )
    np.testing.assert_array_equal(label.numpy()[0], label8)


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "no '.*classes.json'"),
        ("{not json", "not valid JSON"),
        ('{"classes": []}', 'non-empty "classes" list'),
        ('{"classes": ["a", {"name": "b", "color": [1, 2]}]}', "class 1"),
        ('{"classes": ["a", "a"]}', "unique"),
        ('{"classes": ["a", "b"], "ignore_index": 1}', "ignore_index must be"),
        ('{"classes": ["a"], "palette": []}', "unknown keys"),
        # Wrong types were a TypeError traceback, a misleading range, or accepted:
        ('{"classes": [{"name": "a", "color": 5}]}', "class 0.*color.*three integers"),
        ('{"classes": [{"name": "a", "color": [true, false, true]}]}', "class 0.*three integers"),
        ('{"classes": [{"name": "a", "color": [1, 2, 300]}]}', "class 0.*0..255"),
        ('{"classes": [' + ", ".join(f'"c{i}"' for i in range(300)) + "]}", "300 classes.*at most"),
        ('{"classes": [{"name": 7}]}', "class 0.*name"),
    ],
    ids=lambda value: value[:40] if isinstance(value, str) else None,
)
def test_bad_classes_json_is_named(tmp_path, content, message):
    root = tmp_path / "mine"
    root.mkdir()
    if content is not None:
        (root / "classes.json").write_text(content)
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        dataset_for(DataConfig(dataset="custom", data_dir=str(root)))


def test_folder_image_without_label_is_named(tmp_path):
    root = fabricate.own_folder(tmp_path / "mine")
    os.remove(os.path.join(root, "labels", "train", "seq", "street1.png"))
    with pytest.raises(FileNotFoundError, match="street1.png' has no label"):
        num_frames(DataConfig(dataset="custom", data_dir=root), "train")


@pytest.mark.parametrize("dataset", ["camvid", "custom"])
def test_a_label_without_its_image_is_named(tmp_path, dataset):
    # CamVid and own folders dropped such a label silently (Cityscapes refused it): usually an
    # image lost in a copy, so the split is smaller than the user thinks.
    if dataset == "camvid":
        root = fabricate.camvid(tmp_path / "CamVid", counts=(2, 1, 1))
        orphan = os.path.join(root, "train", "0001TP_000001.png")
    else:
        root = fabricate.own_folder(tmp_path / "mine")
        orphan = os.path.join(root, "images", "train", "seq", "street1.png")
    os.remove(orphan)
    with pytest.raises(FileNotFoundError, match=r"000001.png' has no image|street1.png' has no im"):
        num_frames(DataConfig(dataset=dataset, data_dir=root), "train")


def test_unknown_dataset_is_refused():
    with pytest.raises(ValueError, match="unknown dataset 'kitti'"):
        dataset_for(DataConfig(dataset="kitti"))


@pytest.mark.parametrize("dataset", ["camvid", "custom"])
@pytest.mark.parametrize("which", ["image", "label"])
def test_a_fifo_in_a_dataset_is_named_and_never_opened(tmp_path, dataset, which):
    """A FIFO among the frames would hang the input pipeline forever (reading it waits for a
    writer); a FIFO in place of a label was reported as a missing label."""
    if dataset == "camvid":
        root = fabricate.camvid(tmp_path / "CamVid", counts=(2, 1, 1))
        fifo = os.path.join(
            root, "train" if which == "image" else "trainannot", "0001TP_000001.png"
        )
    else:
        root = fabricate.own_folder(tmp_path / "mine")
        fifo = os.path.join(
            root, "images" if which == "image" else "labels", "train", "seq", "street1.png"
        )
    os.remove(fifo)
    os.mkfifo(fifo)
    with pytest.raises(
        ValueError,
        match=r"'[^']*(000001|street1)\.png' is not a regular file "
        r"\(a FIFO\)",
    ):
        num_frames(DataConfig(dataset=dataset, data_dir=root), "train")
