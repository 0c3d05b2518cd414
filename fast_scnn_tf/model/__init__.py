"""The Fast-SCNN network: the four paper modules and the layers they need."""

from fast_scnn_tf.model.fast_scnn import (
    AUX_GFE, AUX_LTD, LOGITS, FastSCNN, build_fast_scnn, classifier, feature_fusion,
    global_feature_extractor, inference_model, learning_to_downsample, module_parameter_counts)
