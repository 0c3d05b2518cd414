"""Bad files met inside tf.data stop evaluate.py and train.py with one line naming the file and
exit code 1, not a traceback; a PNG damaged in the middle is named too."""

import os
import shutil

import cv2
import numpy as np
import pytest
import tensorflow as tf

import evaluate
import fabricate

FRAME = "dunmere_000000_000019"  # a val frame of the synthetic set below
IMAGE = os.path.join("leftImg8bit", "val", "dunmere", FRAME + "_leftImg8bit.png")
LABEL = os.path.join("gtFine", "val", "dunmere", FRAME + "_gtFine_labelIds.png")


@pytest.fixture(scope="module")
def clean_data(synthetic_cityscapes):
    return synthetic_cityscapes(num_train=2, num_val=2)  # tests damage copies of it


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, clean_data):
    return fabricate.run_folder(tmp_path_factory.mktemp("run"), data_dir=clean_data)


def _damage(path, how):
    data = open(path, "rb").read()
    if how == "truncated":
        data = data[: len(data) * 2 // 3]
    elif how == "middle":  # header and IEND intact: only the chunk checksums can tell
        middle = len(data) // 2
        data = data[:middle] + bytes(16) + data[middle + 16 :]
    elif how == "jpeg":
        data = cv2.imencode(".jpg", cv2.imread(path))[1].tobytes()
    else:
        label = cv2.imread(path, cv2.IMREAD_UNCHANGED)
        if how == "colour":
            label = np.dstack([label] * 3)
        elif how == "size":
            label = label[:32]
        elif how == "values":
            label[0, 0] = 200  # not a Cityscapes label id
        data = cv2.imencode(".png", label)[1].tobytes()
    with open(path, "wb") as f:
        f.write(data)


CASES = {
    "truncated image": (IMAGE, "truncated"),
    "image damaged in the middle": (IMAGE, "middle"),
    "JPEG named .png": (IMAGE, "jpeg"),
    "colour label": (LABEL, "colour"),
    "label of another size": (LABEL, "size"),
    "label damaged in the middle": (LABEL, "middle"),
    "label values outside the class table": (LABEL, "values"),
}


@pytest.mark.slow  # over ~2 s on 2 cores: make test runs it, make test-fast does not
@pytest.mark.parametrize("case", CASES)
def test_evaluate_names_the_bad_file_in_one_line(case, clean_data, run_dir, tmp_path, capsys):
    data = str(tmp_path / "data")
    shutil.copytree(clean_data, data)
    relative, how = CASES[case]
    _damage(os.path.join(data, relative), how)
    code = evaluate.main(
        [
            "--no-progress",
            "--checkpoint",
            run_dir,
            "--data-dir",
            data,
            "--output",
            str(tmp_path / "out"),
        ]
    )
    err = capsys.readouterr().err.strip()
    assert code == 1
    assert len(err.splitlines()) == 1 and os.path.basename(relative) in err, err


@pytest.mark.slow
def test_train_names_the_bad_file_in_one_line(clean_data, tmp_path, capsys):
    import train

    data = str(tmp_path / "data")
    shutil.copytree(clean_data, data)
    for image in tf.io.gfile.glob(os.path.join(data, "leftImg8bit", "train", "*", "*.png")):
        _damage(image, "middle")
    code = train.main(
        [
            "--model-dir",
            str(tmp_path / "run"),
            "--data-dir",
            data,
            "--epochs",
            "1",
            "--batch-size",
            "1",
            "--crop-size",
            "32",
            "64",
            "--no-progress",
        ]
    )
    err = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert code == 1
    assert len(err) == 1 and "leftImg8bit.png" in err[0] and "corrupt PNG" in err[0], err
