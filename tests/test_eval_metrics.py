"""Metrics against hand-computed IoUs and against the official cityscapesScripts formulas.

Official rule used throughout (evalPixelLevelSemanticLabeling.py, getIouScoreForLabel /
getIouScoreForCategory / getScoreAverage): ground-truth-ignored pixels count nowhere; a class with
TP + FP + FN == 0 gets NaN (None here) and is left out of the mean, so it counts neither as 0 nor
as 1; a class that is only predicted has IoU 0 and does count.
"""

import math

import numpy as np
import pytest
import tensorflow as tf

from cityscapes_ids import id_to_train_id_table, train_id_to_id_table  # tests/ is on sys.path
from fast_scnn_tf.data.cityscapes_labels import (
    CATEGORY_NAMES,
    CITYSCAPES_LABELS,
    CLASS_NAMES,
    TRAIN_ID_TO_CATEGORY,
)
from fast_scnn_tf.data.classes import ClassTable
from fast_scnn_tf.evaluation.metrics import category_confusion, compute_metrics, confusion_matrix

ROAD, SIDEWALK, BUILDING, CAR = 0, 1, 2, 13


def hand_case():
    # One 2x4 frame. Pixel by pixel (label -> prediction):
    #   road->road, road->road, road->sidewalk, sidewalk->sidewalk,
    #   building->road, 255->car (ignored), car->car, car->building
    labels = np.array([[ROAD, ROAD, ROAD, SIDEWALK], [BUILDING, 255, CAR, CAR]], np.uint8)
    preds = np.array([[ROAD, ROAD, SIDEWALK, SIDEWALK], [ROAD, CAR, CAR, BUILDING]], np.uint8)
    return labels, preds


def test_hand_case_class_iou():
    labels, preds = hand_case()
    m = compute_metrics(confusion_matrix(labels, preds, 19).numpy())
    # road: TP 2, FP 1 (building pixel), FN 1 (-> sidewalk)      = 2/4
    # sidewalk: TP 1, FP 1 (road pixel), FN 0                     = 1/2
    # building: TP 0, FP 1 (car pixel), FN 1 (-> road)            = 0
    # car: TP 1, FP 0 (its prediction on the 255 pixel is ignored), FN 1 = 1/2
    assert m["class_iou"]["road"] == pytest.approx(0.5)
    assert m["class_iou"]["sidewalk"] == pytest.approx(0.5)
    assert m["class_iou"]["building"] == 0.0
    assert m["class_iou"]["car"] == pytest.approx(0.5)
    assert m["miou"] == pytest.approx((0.5 + 0.5 + 0.0 + 0.5) / 4)
    assert m["pixel_accuracy"] == pytest.approx(4 / 7)
    assert m["num_pixels"] == 7


def test_classes_absent_from_labels_and_predictions_are_left_out():
    labels, preds = hand_case()
    m = compute_metrics(confusion_matrix(labels, preds, 19).numpy())
    absent = set(CLASS_NAMES) - {"road", "sidewalk", "building", "car"}
    assert all(m["class_iou"][name] is None for name in absent)  # NaN officially, not 0 nor 1
    assert len(absent) == 15


def test_class_only_predicted_counts_as_zero():
    labels = np.array([[ROAD, ROAD]], np.uint8)
    preds = np.array([[ROAD, CAR]], np.uint8)
    m = compute_metrics(confusion_matrix(labels, preds, 19).numpy())
    assert m["class_iou"]["car"] == 0.0  # TP 0, FP 1: IoU 0 and it counts
    assert m["miou"] == pytest.approx((0.5 + 0.0) / 2)


def test_hand_case_category_iou():
    labels, preds = hand_case()
    m = compute_metrics(confusion_matrix(labels, preds, 19).numpy())
    # flat (road, sidewalk): the road->sidewalk pixel is a TP at category level. TP 4,
    # FP 1 (building->road), FN 0 = 4/5. construction: TP 0, FP 1, FN 1 = 0.
    # vehicle: TP 1 (car->car), FN 1 (car->building), 255 pixel ignored = 1/2.
    assert m["category_iou"]["flat"] == pytest.approx(0.8)
    assert m["category_iou"]["construction"] == 0.0
    assert m["category_iou"]["vehicle"] == pytest.approx(0.5)
    assert all(m["category_iou"][c] is None for c in ("object", "nature", "sky", "human"))
    assert m["category_miou"] == pytest.approx((0.8 + 0.0 + 0.5) / 3)


def test_category_mapping_matches_label_table():
    expected = {
        "road": "flat",
        "sidewalk": "flat",
        "building": "construction",
        "wall": "construction",
        "fence": "construction",
        "pole": "object",
        "traffic light": "object",
        "traffic sign": "object",
        "vegetation": "nature",
        "terrain": "nature",
        "sky": "sky",
        "person": "human",
        "rider": "human",
        "car": "vehicle",
        "truck": "vehicle",
        "bus": "vehicle",
        "train": "vehicle",
        "motorcycle": "vehicle",
        "bicycle": "vehicle",
    }
    got = {name: CATEGORY_NAMES[c] for name, c in zip(CLASS_NAMES, TRAIN_ID_TO_CATEGORY)}
    assert got == expected


def test_category_confusion_sums_blocks():
    confusion = np.arange(19 * 19).reshape(19, 19)
    merged = category_confusion(confusion)
    flat, vehicle = CATEGORY_NAMES.index("flat"), CATEGORY_NAMES.index("vehicle")
    assert merged[flat, flat] == confusion[:2, :2].sum()
    assert merged[vehicle, flat] == confusion[13:19, :2].sum()
    assert merged.sum() == confusion.sum()


def test_confusion_matrix_excludes_ignore_and_works_in_tf_function():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 22, (2, 13, 17)).astype(np.uint8)  # 19..21 act as ignored
    labels[0, 0, :5] = 255
    preds = rng.integers(0, 19, (2, 13, 17)).astype(np.uint8)
    expected = np.zeros((19, 19), np.int64)
    for label, pred in zip(labels.ravel(), preds.ravel()):
        if label < 19:
            expected[label, pred] += 1
    got = tf.function(lambda y, p: confusion_matrix(y, p, 19))(labels, preds)
    assert got.dtype == tf.int64
    np.testing.assert_array_equal(got.numpy(), expected)


def test_other_class_counts_have_no_category_miou():
    m = compute_metrics(np.array([[3, 1], [0, 2]]), None)
    assert m["category_miou"] is None and m["category_iou"] == {}
    assert m["class_iou"] == {"class_0": pytest.approx(0.75), "class_1": pytest.approx(2 / 3)}


def test_mismatched_class_names_rejected():
    with pytest.raises(ValueError, match="class names"):
        compute_metrics(np.zeros((3, 3)), ClassTable(("a", "b"), ((0, 0, 0), (1, 1, 1))))


def test_mean_class_accuracy_averages_recall_over_present_classes():
    # rows: ground truth. class 0 recall 3/4, class 1 recall 2/2, class 2 absent from the labels
    m = compute_metrics(np.array([[3, 1, 0], [0, 2, 0], [0, 0, 0]]), None)
    assert m["class_accuracy"] == {"class_0": 0.75, "class_1": 1.0, "class_2": None}
    assert m["mean_accuracy"] == pytest.approx(0.875)
    assert m["pixel_accuracy"] == pytest.approx(5 / 6)


# --- The official evaluation written out literally on the 34 Cityscapes label ids -----------

_BY_ID = {label.id: label for label in CITYSCAPES_LABELS if label.id >= 0}
_EVAL_IDS = sorted(_BY_ID)
_IGNORED = {i for i in _EVAL_IDS if _BY_ID[i].train_id == 255}  # ignoreInEval


def _official_scores(gt_ids: np.ndarray, pred_ids: np.ndarray):
    """getIouScoreForLabel / getIouScoreForCategory / getScoreAverage on a labelId matrix."""
    conf = np.zeros((34, 34), np.int64)
    np.add.at(conf, (gt_ids.ravel(), pred_ids.ravel()), 1)
    classes = {}
    for i in _EVAL_IDS:
        if i in _IGNORED:
            continue
        tp = conf[i, i]
        fn = conf[i, :].sum() - tp
        fp = conf[[j for j in _EVAL_IDS if j not in _IGNORED and j != i], i].sum()
        classes[_BY_ID[i].name] = tp / (tp + fp + fn) if tp + fp + fn else math.nan
    categories = {}
    for cat in CATEGORY_NAMES:
        ids = [i for i in _EVAL_IDS if _BY_ID[i].category == cat and i not in _IGNORED]
        others = [j for j in _EVAL_IDS if j not in _IGNORED and _BY_ID[j].category != cat]
        tp = conf[np.ix_(ids, ids)].sum()
        fn = conf[ids, :].sum() - tp
        fp = conf[np.ix_(others, ids)].sum()
        categories[cat] = tp / (tp + fp + fn) if tp + fp + fn else math.nan

    def average(scores):
        valid = [s for s in scores.values() if not math.isnan(s)]
        return sum(valid) / len(valid)

    return classes, average(classes), categories, average(categories)


@pytest.mark.parametrize("seed", [0, 1])
def test_equals_official_formula_on_label_ids(seed):
    rng = np.random.default_rng(seed)
    gt_ids = rng.integers(0, 34, (3, 40, 50))  # every label id, the ignored ones included
    pred_train = rng.integers(0, 19, gt_ids.shape)
    pred_train[pred_train == 16] = 0  # "train" never predicted: only a false negative
    gt_ids[gt_ids == 28] = 26  # "bus" never in the labels: only a false positive
    gt_ids[gt_ids == 27] = 26  # "truck": make it absent from the labels ...
    pred_train[pred_train == 14] = 13  # ... and from the predictions: NaN, left out
    classes, miou, categories, category_miou = _official_scores(
        gt_ids, train_id_to_id_table()[pred_train]
    )

    gt_train = id_to_train_id_table()[gt_ids]
    m = compute_metrics(confusion_matrix(gt_train, pred_train, 19).numpy())
    assert m["class_iou"]["truck"] is None and math.isnan(classes["truck"])
    for name in CLASS_NAMES:
        if name != "truck":
            assert m["class_iou"][name] == pytest.approx(classes[name], abs=1e-12)
    assert m["miou"] == pytest.approx(miou, abs=1e-12)
    for cat in CATEGORY_NAMES:
        assert m["category_iou"][cat] == pytest.approx(categories[cat], abs=1e-12)
    assert m["category_miou"] == pytest.approx(category_miou, abs=1e-12)
