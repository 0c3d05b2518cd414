"""Prediction files in each dataset's label format (for Cityscapes the benchmark format), and
colour overlays to look at.

The official evaluation (`evalPixelLevelSemanticLabeling.py`) and the benchmark server find the
prediction of ground truth `<city>_<seq>_<frame>_gtFine_labelIds.png` by searching the results
folder recursively for `<city>_<seq>_<frame>*.png`, and fail when two files match. So each frame
gets one single-channel PNG `<city>_<seq>_<frame>_leftImg8bit.png` of *label ids* (not train
ids) at full resolution, and overlays go to a separate folder. Frame names may hold folders (the
own-folder dataset's `cam_a/f0`): the files go into those sub-folders.

Every PNG carries evaluate.py's marker (`MARKER`, a PNG text chunk decoders skip), and with
--overwrite the writer replaces only PNGs that carry it: a folder holding another PNG, which a
frame's prediction could replace, is refused naming it before anything is written.
"""

from __future__ import annotations

import os

import cv2
import numpy as np

from fast_scnn_tf.data.classes import ClassTable
from fast_scnn_tf.data.contract import Dataset
from fast_scnn_tf.files import check_output_dir, has_png_marker, write_png

MARKER = b"fast-scnn-tf evaluate.py"


def image_like(image: np.ndarray, class_ids: np.ndarray) -> np.ndarray:
    """The image fed to the model resized to its prediction's size: evaluation at another scale
    (`--scale`, a model's input scale) feeds another size than the full-resolution labels."""
    height, width = class_ids.shape
    if image.shape[:2] != (height, width):
        image = cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)
    return image


def overlay(
    classes: ClassTable, image: np.ndarray, class_ids: np.ndarray, alpha: float = 0.5
) -> np.ndarray:
    """`classes.overlay` of the prediction on the image at the prediction's size."""
    return classes.overlay(image_like(image, class_ids), class_ids, alpha)


def written_by_evaluate(path: str) -> bool:
    """True if `path` is a PNG the writer wrote (a regular file carrying `MARKER`)."""
    return has_png_marker(path, MARKER)


def check_ours(path: str) -> None:
    """Raise FileExistsError (one line naming it) if `path` exists and is not the writer's own."""
    if os.path.lexists(path) and not written_by_evaluate(path):
        raise FileExistsError(
            f"'{path}' exists and was not written by evaluate.py: --overwrite replaces only "
            "evaluate.py's own predictions and overlays; move that file or choose another folder"
        )


def prepare_output_dir(path: str, overwrite: bool, what: str = "prediction") -> None:
    """Create `path`, refusing an existing non-empty folder unless `overwrite`; then the PNGs in
    it (any of which a frame's file could replace) must all be the writer's own (`check_ours`),
    and other files are left alone."""
    check_output_dir(path, f"{what} directory", overwrite, empty=True)
    for root, _, names in os.walk(path):
        for name in sorted(names):
            if name.lower().endswith(".png"):
                check_ours(os.path.join(root, name))
    os.makedirs(path, exist_ok=True)


class PredictionWriter:
    """Writes prediction PNGs in the dataset's label format (Cityscapes: the benchmark format)
    and/or overlays; use as `evaluate(on_prediction=)`."""

    def __init__(
        self,
        dataset: Dataset,
        predictions_dir: str | None = None,
        overlays_dir: str | None = None,
        overwrite: bool = False,
    ):
        self.dataset = dataset
        self.stored_values = dataset.stored_values()
        self.predictions_dir = predictions_dir
        self.overlays_dir = overlays_dir
        for directory, what in ((predictions_dir, "prediction"), (overlays_dir, "overlay")):
            if directory:
                prepare_output_dir(directory, overwrite, what)
        self.count = 0
        self.names = set()  # written so far: a second frame of one name would replace a file

    def __call__(self, name: str, image: np.ndarray, class_ids: np.ndarray) -> None:
        if not name:
            raise ValueError(
                "saving predictions needs frame names: build the dataset with with_names=True"
            )
        if name in self.names:
            raise ValueError(
                f"two frames are named '{name}': the second's prediction would replace the first's"
            )
        self.names.add(name)
        if self.predictions_dir:
            self._write(
                self.predictions_dir,
                name + self.dataset.prediction_suffix,
                self.stored_values[np.asarray(class_ids, np.uint8)],
            )
        if self.overlays_dir:
            self._write(
                self.overlays_dir,
                name + "_overlay.png",
                overlay(self.dataset.classes, image, class_ids),
            )
        self.count += 1

    @staticmethod
    def _write(directory: str, name: str, array: np.ndarray) -> None:
        path = os.path.join(directory, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        check_ours(path)  # a file that appeared after the folder was checked
        write_png(path, array, MARKER)
