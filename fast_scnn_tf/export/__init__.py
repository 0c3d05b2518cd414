"""Deployment exports of the inference head (`fast_scnn_tf.model.head`): TF Serving SavedModel,
TFLite (float/int8, QAT).

`qat` is not imported here: it imports tensorflow-model-optimization, which switches `tf.keras`
to tf_keras for the whole process.
"""

from fast_scnn_tf.export.exporter import export_saved_model, export_tflite

__all__ = ["export_saved_model", "export_tflite"]
