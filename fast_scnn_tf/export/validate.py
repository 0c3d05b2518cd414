"""Agreement checks run on every export: the exported model against the Keras head it came from.

Thresholds on label-map pixel agreement (fraction of pixels with the same train id), chosen per
variant: float exports must reproduce the Keras model up to float rounding; quantised exports
are allowed to move pixels near class boundaries. The quantised thresholds assume a trained model
(a 200-step model on synthetic scenes gave dynamic 99.87%, int8 99.43%, QAT int8 99.14%); with
random weights the logits are ~1e-4 and near-tied, and int8 labels flip far more often.
"""

from __future__ import annotations

import logging
from typing import Callable, Iterable

import numpy as np

from fast_scnn_tf.model.head import LABELS, PROBABILITIES

log = logging.getLogger(__name__)

# Minimum label agreement per export variant, and the largest tolerated |prob difference| for the
# float variants (None: reported, not enforced).
MIN_AGREEMENT = {
    "saved_model": 0.999,
    "float32": 0.999,
    "float16": 0.995,
    "dynamic": 0.97,
    "int8": 0.95,
    "qat_int8": 0.95,
}
MAX_PROB_DIFF = {
    "saved_model": 1e-4,
    "float32": 1e-3,
    "float16": None,
    "dynamic": None,
    "int8": None,
    "qat_int8": None,
}


class ValidationError(RuntimeError):
    """An exported model disagrees with the Keras model more than its variant allows."""


def compare(reference: dict, candidate: dict) -> dict[str, float]:
    """Label agreement and max |prob diff| between two head outputs for the same frame(s)."""
    result = {
        "agreement": float(np.mean(np.asarray(reference[LABELS]) == np.asarray(candidate[LABELS])))
    }
    if PROBABILITIES in reference and PROBABILITIES in candidate:
        result["max_prob_diff"] = float(
            np.max(
                np.abs(np.asarray(reference[PROBABILITIES]) - np.asarray(candidate[PROBABILITIES]))
            )
        )
    return result


def validate(
    variant: str,
    reference_fn: Callable,
    exported_fn: Callable,
    frames: Iterable[np.ndarray],
    min_agreement: float | None = None,
) -> dict[str, float]:
    """Run both models on `frames`, log the agreement and raise `ValidationError` below the
    variant's threshold. The *_fn callables map a uint8 [1, H, W, 3] frame to a head output dict."""
    threshold = MIN_AGREEMENT[variant] if min_agreement is None else min_agreement
    agreements, prob_diffs = [], []
    for frame in frames:
        stats = compare(reference_fn(frame), exported_fn(frame))
        agreements.append(stats["agreement"])
        if "max_prob_diff" in stats:
            prob_diffs.append(stats["max_prob_diff"])
    if not agreements:
        raise ValidationError(f"{variant}: no frames to validate on")
    result = {
        "variant": variant,
        "frames": len(agreements),
        "agreement": float(np.mean(agreements)),
        "min_frame_agreement": float(np.min(agreements)),
        "threshold": threshold,
    }
    if prob_diffs:
        result["max_prob_diff"] = float(np.max(prob_diffs))
    log.info(
        "%s vs Keras on %d frames: label agreement %.4f%% (threshold %.2f%%)%s",
        variant,
        len(agreements),
        100 * result["agreement"],
        100 * threshold,
        f", max prob diff {result['max_prob_diff']:.2e}" if prob_diffs else "",
    )
    if result["agreement"] < threshold:
        raise ValidationError(
            f"{variant} export agrees with the Keras model on only "
            f"{100 * result['agreement']:.3f}% of pixels (< {100 * threshold}%)"
        )
    max_diff = MAX_PROB_DIFF.get(variant)
    if prob_diffs and max_diff is not None and result["max_prob_diff"] > max_diff:
        raise ValidationError(
            f"{variant} export: max probability difference "
            f"{result['max_prob_diff']:.2e} > {max_diff:.0e}"
        )
    return result
