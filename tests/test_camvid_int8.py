"""experiments/camvid_int8.py: the per-drive int8 diagnostic's grouping and SQNR arithmetic."""

import numpy as np

import fabricate
from experiments import camvid_int8


def test_sqnr_of_a_rounded_tensor_is_the_uniform_quantiser_s():
    rng = np.random.default_rng(0)
    reference = rng.uniform(-1, 1, 100_000)
    scale, zero_point = 2 / 255, 3
    quantised = np.round(reference / scale) + zero_point
    # signal power 1/3 against the rounding error's scale**2 / 12
    expected = 10 * np.log10((1 / 3) / (scale**2 / 12))
    assert abs(camvid_int8.sqnr(reference, quantised, scale, zero_point) - expected) < 0.1
    # the zero point counts: ignoring it is an error of 3 steps everywhere
    assert camvid_int8.sqnr(reference, quantised, scale, 0) < expected - 15


def test_an_exact_layer_is_infinite_and_left_out_of_the_summary():
    assert camvid_int8.sqnr(np.ones(4), np.full(4, 10.0), 0.1, 0) == np.inf
    per_layer = {
        "val 0016E5": {"conv": 30.0, "add": 40.0, "pool": 10.0, "exact": np.inf, "other": 20.0},
        "test 0001TP": {"conv": 28.0, "add": 36.0, "pool": 35.0, "exact": 50.0},
    }
    # medians over conv, add and pool: the layers finite on both drives
    assert camvid_int8.summary(per_layer) == {"val 0016E5": 30.0, "test 0001TP": 35.0}


def test_frames_are_grouped_by_split_and_drive(tmp_path):
    root = fabricate.camvid(tmp_path, counts=(1, 2, 3))
    (tmp_path / "test" / "0001TP_000002.png").rename(tmp_path / "test" / "Seq05VD_f00002.png")
    (tmp_path / "testannot" / "0001TP_000002.png").rename(
        tmp_path / "testannot" / "Seq05VD_f00002.png"
    )
    groups = camvid_int8.drives(root)
    assert {key: len(frames) for key, frames in groups.items()} == {
        "val 0001TP": 2,
        "test 0001TP": 2,
        "test Seq05VD": 1,
    }
    assert all(image.endswith(label[-17:]) for image, label in groups["test Seq05VD"])
