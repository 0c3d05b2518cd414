"""Prediction, the last stage: a run, a SavedModel or a TFLite file on images, folders and videos.

predictor.py    load any of the three as one function (uint8 image -> labels at its size)
annotate.py     label maps and colour overlays for image files, folders and videos
                (predict.py's work)
"""
