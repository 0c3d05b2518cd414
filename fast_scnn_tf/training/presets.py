"""The training recipes, selectable with `--preset`: the paper's (Cityscapes), mmsegmentation's,
and the CamVid recipe this project chose by measured ablation.

Each lists what it sets; a field any preset sets returns to the dataclass default under a preset
that does not set it, so switching presets never keeps another recipe's value. Flags given
explicitly on the command line are applied after the preset and win.
"""

from __future__ import annotations

import dataclasses

from fast_scnn_tf.config import Config

PRESETS = {
    # §4.1: SGD 0.9, batch 12, poly 0.045 → 0 over 1,000 epochs of fine train, full 1024x2048
    # frames.
    "paper": {
        "train": dict(
            epochs=1000,
            total_steps=0,
            batch_size=12,
            learning_rate=0.045,
            end_learning_rate=0.0,
            weight_decay=4e-5,
            decay_all_parameters=False,
        ),
        "data": dict(crop_size=(1024, 2048)),
    },
    # mmsegmentation fast_scnn_8xb4-160k_cityscapes-512x1024 (70.96% val): lr 0.12, poly with a
    # 1e-4 floor over 160k iterations, 8 GPUs x 4 = batch 32, crop 512x1024, weight decay 4e-5
    # on every parameter (its optimizer has no paramwise_cfg: depthwise, BatchNorm and biases
    # are decayed too). What still differs: Keras' SGD folds the rate into the momentum buffer
    # (see training/step.py); mmseg's SyncBN normalises over all 32 frames with momentum 0.01
    # (Keras 0.99), ours over each replica's frames with the model's 0.9.
    "mmseg": {
        "train": dict(
            total_steps=160_000,
            batch_size=32,
            learning_rate=0.12,
            end_learning_rate=1e-4,
            weight_decay=4e-5,
            decay_all_parameters=True,
        ),
        "data": dict(crop_size=(512, 1024)),
    },
    # CamVid (360x480 frames, 367 train): the recipe this project's 100-epoch ablation on CamVid
    # val chose (docs/camvid.md), DABNet's: Adam 1e-3 with a 500-step warm-up and poly, weight
    # decay 2e-4, class weights 1/ln(1.10 + p), the paper's 1000 epochs; whole 360x480 frames as
    # crops at their own scale, batch 8 (the paper's 12 fits 2 CPU cores badly).
    "camvid": {
        "train": dict(
            epochs=1000,
            batch_size=8,
            optimizer="adam",
            learning_rate=1e-3,
            weight_decay=2e-4,
            warmup_steps=500,
            class_weighting="erfnet",
            eval_every_epochs=10,
        ),
        "data": dict(crop_size=(360, 480), input_scale=1.0),
    },
}


def apply_preset(config: Config, name: str) -> Config:
    """A copy of `config` with the preset's values (and `train.preset` set to `name`)."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}: expected one of {sorted(PRESETS)}")
    defaults = Config()
    sections = {}
    for section in ("train", "data"):
        values = {
            field: getattr(getattr(defaults, section), field)
            for preset in PRESETS.values()
            for field in preset.get(section, {})
        }
        values.update(PRESETS[name].get(section, {}))
        sections[section] = dataclasses.replace(getattr(config, section), **values)
    sections["train"] = dataclasses.replace(sections["train"], preset=name)
    return dataclasses.replace(config, **sections)
