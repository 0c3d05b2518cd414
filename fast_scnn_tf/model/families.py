"""The models a run can name (`ModelConfig.name`, `train.py --model`): Fast-SCNN and the FFNet
variants, behind one builder so that training, loading and export never branch on the family.

Every model takes RGB 0..255 and returns float32 logits at the input's size. The training model
(`aux=True`) returns a dict: `logits`, plus Fast-SCNN's two auxiliary heads; FFNet has none.
"""

from __future__ import annotations

import keras

from fast_scnn_tf.model.fast_scnn import LOGITS, build_fast_scnn
from fast_scnn_tf.model.ffnet import FFNET_VARIANTS, build_ffnet

FAST_SCNN = "fast_scnn"
MODEL_NAMES = (FAST_SCNN, *FFNET_VARIANTS)


def build_model(name: str = FAST_SCNN, num_classes: int = 19, aux: bool = False,
                dropout: float = 0.1, input_shape=(None, None, 3)) -> keras.Model:
    """Build `name` (one of MODEL_NAMES); `dropout` applies to Fast-SCNN only."""
    if name == FAST_SCNN:
        return build_fast_scnn(num_classes=num_classes, aux=aux, dropout=dropout,
                               input_shape=input_shape)
    if name in FFNET_VARIANTS:
        model = build_ffnet(name, num_classes=num_classes, input_shape=input_shape)
        return keras.Model(model.input, {LOGITS: model.output}, name=name) if aux else model
    raise ValueError(f"unknown model '{name}': expected fast_scnn or an FFNet variant "
                     f"({', '.join(FFNET_VARIANTS)})")
