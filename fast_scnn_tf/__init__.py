"""fast-scnn-tf: Fast-SCNN (Poudel et al., BMVC 2019) in TensorFlow/Keras."""

from fast_scnn_tf.model import FastSCNN, build_fast_scnn, inference_model

__version__ = "0.1.0"
