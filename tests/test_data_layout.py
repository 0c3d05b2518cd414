"""Finding frames in the official layout, and what each kind of bad folder says."""

import os

import pytest

from fast_scnn_tf.data import cityscapes_layout as layout


def touch(path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(b"")


def add_frame(root, split, city, index, image=True, label=True, coarse=False):
    stem = f"{city}_{index:06d}_000019"
    image_path = os.path.join(root, "leftImg8bit", split, city, stem + "_leftImg8bit.png")
    gt = "gtCoarse" if coarse else "gtFine"
    label_path = os.path.join(root, gt, split, city, f"{stem}_{gt}_labelIds.png")
    if image:
        touch(image_path)
    if label:
        touch(label_path)
    return image_path, label_path


def test_lists_sorted_pairs(tmp_path):
    root = str(tmp_path)
    expected = [add_frame(root, "val", city, i) for city in ("bcity", "acity") for i in (3, 1)]
    assert layout.list_frames(root, "val") == sorted(expected)


def test_coarse_adds_train_extra_to_train_only(tmp_path):
    root = str(tmp_path)
    fine = add_frame(root, "train", "acity", 0)
    coarse = add_frame(root, "train_extra", "xcity", 5, coarse=True)
    add_frame(root, "val", "vcity", 0)
    assert layout.list_frames(root, "train") == [fine]
    assert layout.list_frames(root, "train", use_coarse=True) == [fine, coarse]
    assert len(layout.list_frames(root, "val", use_coarse=True)) == 1


def test_missing_directory_names_it_and_the_layout(tmp_path):
    missing = str(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="nowhere.*expected the official Cityscapes"):
        layout.list_frames(missing, "train")


def test_empty_directory_says_which_layout_it_expected(tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        layout.list_frames(str(tmp_path), "train")
    assert os.path.join(str(tmp_path), "leftImg8bit", "train") in str(e.value)
    assert "gtFine/<split>/<city>/<city>_<seq>_<frame>_gtFine_labelIds.png" in str(e.value)


def test_wrong_layout_images_in_root(tmp_path):
    touch(str(tmp_path / "aachen_000000_000019_leftImg8bit.png"))
    with pytest.raises(FileNotFoundError, match="leftImg8bit/<split>/<city>"):
        layout.list_frames(str(tmp_path), "val")


def test_split_with_zero_frames_is_an_error(tmp_path):
    os.makedirs(tmp_path / "leftImg8bit" / "val" / "acity")
    os.makedirs(tmp_path / "gtFine" / "val" / "acity")
    with pytest.raises(ValueError, match="split 'val' has zero frames.*leftImg8bit/val"):
        layout.list_frames(str(tmp_path), "val")


def test_missing_label_folder_names_it(tmp_path):
    add_frame(str(tmp_path), "val", "acity", 0, label=False)
    with pytest.raises(FileNotFoundError, match="no label folder .*gtFine/val"):
        layout.list_frames(str(tmp_path), "val")


def test_image_without_label_names_both_paths(tmp_path):
    root = str(tmp_path)
    add_frame(root, "val", "acity", 0)
    image, label = add_frame(root, "val", "acity", 1, label=False)
    with pytest.raises(FileNotFoundError) as e:
        layout.list_frames(root, "val")
    assert image in str(e.value) and label in str(e.value)


def test_label_without_image_names_both_paths(tmp_path):
    root = str(tmp_path)
    add_frame(root, "val", "acity", 0)
    image, label = add_frame(root, "val", "acity", 1, image=False)
    with pytest.raises(FileNotFoundError) as e:
        layout.list_frames(root, "val")
    assert image in str(e.value) and label in str(e.value)


def test_unknown_split(tmp_path):
    with pytest.raises(ValueError, match="unknown split 'training'"):
        layout.list_frames(str(tmp_path), "training")


def test_list_images_needs_no_labels(tmp_path):
    image, _ = add_frame(str(tmp_path), "test", "bcity", 2, label=False)
    assert layout.list_images(str(tmp_path), "test") == [image]


def test_frame_name_is_the_file_stem():
    assert (
        layout.frame_name("/d/leftImg8bit/val/aachen/aachen_000000_000019_leftImg8bit.png")
        == "aachen_000000_000019"
    )
    assert layout.frame_name("x/other.png") == "other"


@pytest.mark.parametrize("split", ["val", "train_extra"])
def test_frame_paths_are_the_paths_the_reader_finds(tmp_path, split):
    """The writer's names (`frame_paths`) and the reader's (`list_frames`) are one naming: the
    hand-written official names here, for a city with a hyphen as in Cityscapes' `bad-honnef`."""
    root = str(tmp_path)
    stem = layout.frame_stem("bad-honnef", 7, 19)
    assert stem == "bad-honnef_000007_000019"
    expected = add_frame(root, split, "bad-honnef", 7, coarse=split == "train_extra")
    assert layout.frame_paths(root, split, stem) == expected
    assert layout._list_split(root, split) == [expected]
