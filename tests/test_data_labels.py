"""The Cityscapes label table: every official id, the inverse table, the palette."""

import numpy as np
import pytest
import tensorflow as tf

from cityscapes_ids import id_to_train_id_table, train_id_to_id_table  # tests/ on sys.path
from fast_scnn_tf.data import cityscapes, decode
from fast_scnn_tf.data import cityscapes_labels as labels

# (labelId, trainId) copied from cityscapesscripts/helpers/labels.py, independently of
# cityscapes_labels.py.
OFFICIAL = {
    0: 255,
    1: 255,
    2: 255,
    3: 255,
    4: 255,
    5: 255,
    6: 255,
    7: 0,
    8: 1,
    9: 255,
    10: 255,
    11: 2,
    12: 3,
    13: 4,
    14: 255,
    15: 255,
    16: 255,
    17: 5,
    18: 255,
    19: 6,
    20: 7,
    21: 8,
    22: 9,
    23: 10,
    24: 11,
    25: 12,
    26: 13,
    27: 14,
    28: 15,
    29: 255,
    30: 255,
    31: 16,
    32: 17,
    33: 18,
}


def test_every_official_id_maps_to_its_train_id():
    table = id_to_train_id_table()
    assert {i: int(table[i]) for i in OFFICIAL} == OFFICIAL


def test_unknown_ids_are_ignored():
    table = id_to_train_id_table()
    assert table.dtype == np.uint8 and table.shape == (256,)
    assert np.all(table[34:] == labels.IGNORE_LABEL)  # includes 255, where id -1 would wrap


def test_license_plate_is_ignored():
    plate = [label for label in labels.CITYSCAPES_LABELS if label.name == "license plate"][0]
    assert plate.id == -1 and plate.train_id == labels.IGNORE_LABEL


def test_train_id_to_id_inverts_the_table():
    to_id = train_id_to_id_table()
    to_train = id_to_train_id_table()
    for train_id in range(labels.NUM_CLASSES):
        assert to_train[to_id[train_id]] == train_id
    assert to_id[0] == 7 and to_id[18] == 33
    assert to_id[labels.IGNORE_LABEL] == 0


def test_class_names_follow_train_ids():
    assert len(labels.CLASS_NAMES) == 19
    assert labels.CLASS_NAMES[0] == "road" and labels.CLASS_NAMES[18] == "bicycle"


def test_colorize_uses_the_official_palette():
    rgb = labels.CLASSES.colorize(np.array([[0, 10], [13, 255]], np.uint8))
    assert rgb.shape == (2, 2, 3) and rgb.dtype == np.uint8
    assert rgb[0, 0].tolist() == [128, 64, 128]  # road
    assert rgb[0, 1].tolist() == [70, 130, 180]  # sky
    assert rgb[1, 0].tolist() == [0, 0, 142]  # car
    assert rgb[1, 1].tolist() == [0, 0, 0]  # ignore


def test_graph_lookup_matches_the_table_for_every_cityscapes_id():
    ids = tf.constant(np.arange(34, dtype=np.int32).reshape(2, 17))
    train_ids = decode.to_class_ids(ids, cityscapes.dataset().label_values, tf.constant("x.png"))
    assert train_ids.dtype == tf.uint8
    np.testing.assert_array_equal(train_ids.numpy().ravel(), id_to_train_id_table()[:34])


@pytest.mark.parametrize("bad", [34, 200, 255, 1000])
def test_ids_outside_the_table_stop_naming_the_file_and_values(bad):
    ids = tf.constant([[7, 8], [bad, 7]], tf.int32)
    with pytest.raises(
        tf.errors.InvalidArgumentError,
        match=rf"(?s)outside the class table.*"
        rf"bad_label\.png.*{bad}",
    ):
        decode.to_class_ids(ids, cityscapes.dataset().label_values, tf.constant("bad_label.png"))
