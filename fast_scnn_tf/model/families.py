"""The model families as one table: the one place that knows which models a run can name
(`ModelConfig.name`, `train.py --model`), how each is built and what it supports. Training,
loading, export, the command lines and the benchmarks read it and never compare a model's name.

Adding a family: its folder (or file) under `model/`, one entry in FAMILIES below. The contract
its models meet is in `contract.py`; `tests/test_model_families.py` checks it for every entry.
"""

from __future__ import annotations

import keras

from fast_scnn_tf.model.contract import LOGITS, Family, ForeignWeights, Published
from fast_scnn_tf.model.fast_scnn import AUX_GFE, AUX_LTD, build_fast_scnn
from fast_scnn_tf.model.ffnet import FFNET_VARIANTS, build_ffnet


def _fast_scnn(name, num_classes, input_shape, dropout, aux):
    return build_fast_scnn(
        num_classes=num_classes, aux=aux, dropout=dropout, input_shape=input_shape
    )


def _ffnet(name, num_classes, input_shape, dropout, aux):
    # No dropout and no auxiliary heads: build_model wraps the training model's output.
    return build_ffnet(name, num_classes=num_classes, input_shape=input_shape)


def _ffnet_from_torch(name, state_dict):
    from fast_scnn_tf.model.ffnet.torch_weights import convert_ffnet_state_dict

    return convert_ffnet_state_dict(name, state_dict)


FAMILIES = {
    "fast_scnn": Family(
        build=_fast_scnn,
        test_variant="fast_scnn",
        aux_heads=(AUX_LTD, AUX_GFE),
        qat=True,
        # Table 6 of the paper: fine data only, no ImageNet pre-training.
        variants={
            "fast_scnn": Published((1024, 2048), 68.62, "Fast-SCNN paper, Table 6 (from scratch)")
        },
    ),
    "ffnet": Family(
        build=_ffnet,
        test_variant="ffnet46NS_CCC_mobile",
        variants={
            name: Published(
                spec.input_size,
                spec.val_miou,
                "FFNet paper / official README"
                + (f" ({spec.miou_note})" if spec.miou_note else ""),
            )
            for name, spec in FFNET_VARIANTS.items()
        },
        foreign_weights=ForeignWeights(
            convert=_ffnet_from_torch,
            source="official FFNet state dicts (Qualcomm-AI-research/FFNet .pth: keys "
            "backbone_model.* and head.*; a {'state_dict': ...} wrapper and a 'module.' prefix "
            "are accepted)",
            # Parameters and BatchNorm statistics of its state dict, 19 classes.
            largest_variant="ffnet122NS_CCC_mobile",
            largest_values=32_206_365,
        ),
    ),
}
MODEL_NAMES = tuple(name for family in FAMILIES.values() for name in family.variants)


def family_of(name: str) -> Family:
    """The Family that builds model `name`; ValueError naming the known models otherwise."""
    for family in FAMILIES.values():
        if name in family.variants:
            return family
    raise ValueError(f"unknown model '{name}': expected {names_help()}")


def names_help() -> str:
    """The model names by family, for --help and error messages."""
    return "; ".join(
        f"{key}: {', '.join(family.variants)}" if list(family.variants) != [key] else key
        for key, family in FAMILIES.items()
    )


def build_model(
    name: str = "fast_scnn",
    num_classes: int = 19,
    aux: bool = False,
    dropout: float = 0.1,
    input_shape=(None, None, 3),
) -> keras.Model:
    """Build model `name` (one of MODEL_NAMES) as `contract.py` describes it; `dropout` applies
    to the families that have one (Fast-SCNN)."""
    model = family_of(name).build(
        name, num_classes=num_classes, input_shape=input_shape, dropout=dropout, aux=aux
    )
    if aux and not isinstance(model.output, dict):  # a family without auxiliary heads
        model = keras.Model(model.input, {LOGITS: model.output}, name=name)
    return model


def inference_model(model: keras.Model) -> keras.Model:
    """The inference model (logits only) that shares its weights with `model`, a training model
    of any family (a dict of outputs) or already an inference model."""
    if not isinstance(model.output, dict):
        return model
    return keras.Model(model.input, model.output[LOGITS], name=f"{model.name}_inference")
