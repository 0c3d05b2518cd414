"""The networks: Fast-SCNN (the four paper modules) and FFNet, built by name with `build_model`
from the table of model families (`families.py`); the contract every model meets is
`contract.py`."""

from fast_scnn_tf.model.contract import LOGITS
from fast_scnn_tf.model.families import (
    FAMILIES,
    MODEL_NAMES,
    build_model,
    family_of,
    inference_model,
)
from fast_scnn_tf.model.fast_scnn import (
    AUX_GFE,
    AUX_LTD,
    FastSCNN,
    build_fast_scnn,
    classifier,
    feature_fusion,
    global_feature_extractor,
    learning_to_downsample,
    module_parameter_counts,
)

__all__ = [
    "LOGITS",
    "AUX_GFE",
    "AUX_LTD",
    "FastSCNN",
    "build_fast_scnn",
    "classifier",
    "feature_fusion",
    "global_feature_extractor",
    "inference_model",
    "learning_to_downsample",
    "module_parameter_counts",
    "FAMILIES",
    "MODEL_NAMES",
    "build_model",
    "family_of",
]
