"""Evaluation: metrics counted as the Cityscapes benchmark counts them (for every dataset), the
evaluation loop, predictions in each dataset's label format."""

from fast_scnn_tf.evaluation.evaluator import ablate_skip, evaluate, make_predict_step
from fast_scnn_tf.evaluation.frames import evaluation_frames, unlabelled_frames
from fast_scnn_tf.evaluation.metrics import compute_metrics, confusion_matrix, format_table
from fast_scnn_tf.evaluation.predictions import PredictionWriter

__all__ = [
    "ablate_skip",
    "evaluate",
    "make_predict_step",
    "evaluation_frames",
    "unlabelled_frames",
    "compute_metrics",
    "confusion_matrix",
    "format_table",
    "PredictionWriter",
]
