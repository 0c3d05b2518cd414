"""Synthetic street scenes with exact Cityscapes labels, for the demo and the tests (not part of
the input pipeline, which reads whatever folder they are written to).

    scene.py     render_scene: one frame and its label ids from a random generator
    generate.py  generate: a dataset folder in the official Cityscapes layout; the command line

    python -m fast_scnn_tf.synthetic --out data/synthetic --num-train 60 --num-val 20
"""

from fast_scnn_tf.synthetic.generate import frame_paths, generate, main
from fast_scnn_tf.synthetic.scene import ID, render_scene

__all__ = ["frame_paths", "generate", "main", "ID", "render_scene"]
