"""The networks: Fast-SCNN (the four paper modules) and FFNet, built by name with `build_model`."""

from fast_scnn_tf.model.fast_scnn import (
    AUX_GFE, AUX_LTD, LOGITS, FastSCNN, build_fast_scnn, classifier, feature_fusion,
    global_feature_extractor, inference_model, learning_to_downsample, module_parameter_counts)
from fast_scnn_tf.model.models import FAST_SCNN, MODEL_NAMES, build_model
