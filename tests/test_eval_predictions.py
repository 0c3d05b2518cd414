"""Prediction files in each dataset's label format (Cityscapes: the benchmark's) and overlays."""

import os

import cv2
import numpy as np
import pytest

import fabricate
from fast_scnn_tf.config import DataConfig
from fast_scnn_tf.data import camvid, cityscapes
from fast_scnn_tf.data import cityscapes_layout as layout
from fast_scnn_tf.data.cityscapes_labels import PALETTE
from fast_scnn_tf.data.datasets import dataset_for
from fast_scnn_tf.evaluation.predictions import PredictionWriter, prepare_output_dir

CITYSCAPES = cityscapes.dataset()


def to_label_ids(train_ids):
    return CITYSCAPES.stored_values()[train_ids]


def test_cityscapes_predictions_follow_the_benchmark_server_pattern():
    name = layout.frame_name("val/frankfurt/frankfurt_000001_002646_leftImg8bit.png")
    assert name + CITYSCAPES.prediction_suffix == "frankfurt_000001_002646_leftImg8bit.png"


def test_train_ids_map_back_to_label_ids():
    train_ids = np.array([0, 1, 2, 10, 11, 13, 16, 18, 255], np.uint8)
    # road 7, sidewalk 8, building 11, sky 23, person 24, car 26, train 31, bicycle 33; 255 -> 0
    np.testing.assert_array_equal(to_label_ids(train_ids), [7, 8, 11, 23, 24, 26, 31, 33, 0])
    assert to_label_ids(train_ids).dtype == np.uint8


def test_camvid_predictions_store_class_indices_and_void():
    values = camvid.DATASET.stored_values()[np.array([0, 3, 10, 255], np.uint8)]
    np.testing.assert_array_equal(values, [0, 3, 10, camvid.VOID])


def test_writer_writes_label_id_png_and_rgb_overlay(tmp_path):
    preds, overlays = str(tmp_path / "preds"), str(tmp_path / "overlays")
    writer = PredictionWriter(CITYSCAPES, preds, overlays)
    train_ids = np.zeros((6, 10), np.uint8)
    train_ids[:, 5:] = 13  # car on the right half
    image = np.zeros((3, 5, 3), np.uint8)  # half size, as at --scale 0.5
    writer("aachen_000000_000019", image, train_ids)

    assert os.listdir(preds) == ["aachen_000000_000019_leftImg8bit.png"]
    written = cv2.imread(
        os.path.join(preds, "aachen_000000_000019_leftImg8bit.png"), cv2.IMREAD_UNCHANGED
    )
    assert written.dtype == np.uint8 and written.shape == (6, 10)  # one channel, full size
    np.testing.assert_array_equal(written, to_label_ids(train_ids))

    shown = cv2.imread(os.path.join(overlays, "aachen_000000_000019_overlay.png"))[..., ::-1]
    assert shown.shape == (6, 10, 3)
    np.testing.assert_array_equal(shown[0, 0], np.rint(PALETTE[0] * 0.5))  # road on black
    np.testing.assert_array_equal(shown[0, 9], np.rint(PALETTE[13] * 0.5))  # car on black


def test_existing_directory_with_files_is_refused(tmp_path):
    (tmp_path / "other.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="--overwrite"):
        prepare_output_dir(str(tmp_path), overwrite=False)
    prepare_output_dir(str(tmp_path), overwrite=True)
    assert (tmp_path / "other.txt").read_text() == "keep me"


def test_empty_existing_directory_is_accepted(tmp_path):
    prepare_output_dir(str(tmp_path), overwrite=False)
    assert os.path.isdir(tmp_path) and os.listdir(tmp_path) == []


def test_writer_needs_frame_names(tmp_path):
    writer = PredictionWriter(CITYSCAPES, str(tmp_path / "p"))
    with pytest.raises(ValueError, match="with_names"):
        writer("", np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4), np.uint8))


def test_folder_frames_with_one_name_in_two_sub_folders_keep_apart(tmp_path):
    """cam_a/f0.png and cam_b/f0.png were both written as f0.png: one frame's prediction lost."""
    from fast_scnn_tf.evaluation import evaluation_frames

    root = tmp_path / "mine"
    fabricate.classes_file(root, ["a", "b", "c"])
    for camera, value in (("cam_a", 1), ("cam_b", 2)):
        fabricate.own_folder_frame(
            root,
            "val",
            f"{camera}/f0",
            np.zeros((32, 48, 3), np.uint8),
            np.full((32, 48), value, np.uint8),
        )
    cfg = DataConfig(dataset="custom", data_dir=str(root))
    preds, overlays = tmp_path / "preds", tmp_path / "overlays"
    writer = PredictionWriter(dataset_for(cfg), str(preds), str(overlays))
    for image, label, name in evaluation_frames(cfg, "val", with_names=True):
        # the label as the prediction: each file must hold its own frame's
        writer(name.numpy()[0].decode(), image.numpy()[0].astype(np.uint8), label.numpy()[0])

    for camera, value in (("cam_a", 1), ("cam_b", 2)):
        written = cv2.imread(str(preds / camera / "f0.png"), cv2.IMREAD_UNCHANGED)
        assert written is not None and set(np.unique(written)) == {value}, camera
        assert (overlays / camera / "f0_overlay.png").is_file()
    assert writer.count == 2


def test_writer_refuses_a_second_frame_of_the_same_name(tmp_path):
    writer = PredictionWriter(CITYSCAPES, str(tmp_path / "p"))
    frame = (np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4), np.uint8))
    writer("aachen_000000_000019", *frame)
    with pytest.raises(ValueError, match="aachen_000000_000019"):
        writer("aachen_000000_000019", *frame)


def test_written_pngs_carry_the_writers_marker(tmp_path):
    """What --overwrite recognises as evaluate.py's own output: a PNG text chunk that decoders
    ignore (the values are checked above)."""
    from fast_scnn_tf.evaluation.predictions import written_by_evaluate

    writer = PredictionWriter(CITYSCAPES, str(tmp_path / "p"), str(tmp_path / "o"))
    writer("aachen_000000_000019", np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4), np.uint8))
    assert written_by_evaluate(str(tmp_path / "p" / "aachen_000000_000019_leftImg8bit.png"))
    assert written_by_evaluate(str(tmp_path / "o" / "aachen_000000_000019_overlay.png"))
    cv2.imwrite(str(tmp_path / "plain.png"), np.zeros((4, 4), np.uint8))
    assert not written_by_evaluate(str(tmp_path / "plain.png"))


@pytest.mark.parametrize("folder", ["p", "o"])
def test_overwrite_refuses_a_png_the_writer_did_not_write(tmp_path, folder):
    """--overwrite replaced any same-named file; now only the writer's own (marked) PNGs, and a
    foreign one is named before anything is written."""
    frame = (np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4), np.uint8))
    preds, overlays = str(tmp_path / "p"), str(tmp_path / "o")
    PredictionWriter(CITYSCAPES, preds, overlays)("aachen_000000_000019", *frame)
    PredictionWriter(CITYSCAPES, preds, overlays, overwrite=True)("aachen_000000_000019", *frame)
    mine = tmp_path / folder / "sub" / "mine.png"
    mine.parent.mkdir()
    cv2.imwrite(str(mine), np.full((4, 4), 7, np.uint8))
    before = mine.read_bytes()
    with pytest.raises(FileExistsError) as refused:
        PredictionWriter(CITYSCAPES, preds, overlays, overwrite=True)
    message = str(refused.value)
    assert str(mine) in message and "evaluate.py" in message and "\n" not in message
    assert mine.read_bytes() == before
