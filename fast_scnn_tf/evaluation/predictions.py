"""Prediction files in the Cityscapes benchmark format, and colour overlays to look at.

The official evaluation (`evalPixelLevelSemanticLabeling.py`) and the benchmark server find the
prediction of ground truth `<city>_<seq>_<frame>_gtFine_labelIds.png` by searching the results
folder recursively for `<city>_<seq>_<frame>*.png`, and fail when two files match. So each frame
gets one single-channel PNG `<city>_<seq>_<frame>_leftImg8bit.png` of *label ids* (not train
ids) at full resolution, and overlays go to a separate folder.
"""

from __future__ import annotations

import os

import cv2
import numpy as np

from fast_scnn_tf.data import labels
from fast_scnn_tf.files import write_png

_TRAIN_ID_TO_ID = labels.train_id_to_id_table()
IMAGE_SUFFIX = "_leftImg8bit"


def frame_stem(name: str) -> str:
    """`aachen_000000_000019` from a frame name or file name (suffixes and folders dropped)."""
    stem = os.path.splitext(os.path.basename(name))[0]
    return stem[:-len(IMAGE_SUFFIX)] if stem.endswith(IMAGE_SUFFIX) else stem


def benchmark_filename(name: str) -> str:
    """The file name the benchmark server expects for a frame: `<stem>_leftImg8bit.png`."""
    return frame_stem(name) + IMAGE_SUFFIX + ".png"


def to_label_ids(train_ids: np.ndarray) -> np.ndarray:
    """Train ids (0..18) -> Cityscapes label ids (7..33) as uint8; 255 -> 0 (unlabeled)."""
    return _TRAIN_ID_TO_ID[np.asarray(train_ids, np.uint8)]


def overlay(image: np.ndarray, train_ids: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """`labels.overlay` with the image first resized to the prediction's size (reduced-scale
    evaluation feeds a smaller image than the full-resolution prediction)."""
    height, width = train_ids.shape
    if image.shape[:2] != (height, width):
        image = cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)
    return labels.overlay(image, train_ids, alpha)


def prepare_output_dir(path: str, overwrite: bool, what: str = "prediction") -> None:
    """Create `path`, refusing an existing non-empty folder unless `overwrite` (then files with
    the same names are replaced and other files are left alone)."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise FileExistsError(f"{what} directory '{path}' is a file")
    if os.path.isdir(path) and os.listdir(path) and not overwrite:
        raise FileExistsError(f"{what} directory '{path}' already holds files: choose an empty "
                              "or new directory, or pass --overwrite to replace them")
    os.makedirs(path, exist_ok=True)


class PredictionWriter:
    """Writes benchmark-format label-id PNGs and/or overlays; use as `evaluate(on_prediction=)`."""

    def __init__(self, predictions_dir: str | None = None, overlays_dir: str | None = None,
                 overwrite: bool = False):
        self.predictions_dir = predictions_dir
        self.overlays_dir = overlays_dir
        for directory, what in ((predictions_dir, "prediction"), (overlays_dir, "overlay")):
            if directory:
                prepare_output_dir(directory, overwrite, what)
        self.count = 0

    def __call__(self, name: str, image: np.ndarray, train_ids: np.ndarray) -> None:
        if not name:
            raise ValueError("saving predictions needs frame names: build the dataset with "
                             "with_names=True")
        if self.predictions_dir:
            write_png(os.path.join(self.predictions_dir, benchmark_filename(name)),
                      to_label_ids(train_ids))
        if self.overlays_dir:
            write_png(os.path.join(self.overlays_dir, frame_stem(name) + "_overlay.png"),
                      overlay(image, train_ids))
        self.count += 1
