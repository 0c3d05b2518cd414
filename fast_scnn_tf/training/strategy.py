"""Which devices and processes train: the `tf.distribute` strategy, and which process is the chief
(the one that writes the run folder)."""

from __future__ import annotations

import tensorflow as tf

from fast_scnn_tf.config import STRATEGIES


def make_strategy(name: str = "auto") -> tf.distribute.Strategy:
    """`auto`: MirroredStrategy over all GPUs when there are several, else the default strategy.

    `mirrored` without GPUs mirrors over the logical CPUs (how the tests run it); `multiworker`
    reads the cluster from TF_CONFIG (see docs/multi_node.md).
    """
    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}: expected one of {STRATEGIES}")
    if name == "auto":
        name = "mirrored" if len(tf.config.list_logical_devices("GPU")) > 1 else "default"
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
    return tf.distribute.MirroredStrategy([d.name for d in devices])


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """True outside a cluster; in one, for the `chief` task, or worker 0 when there is none."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_type == "chief" or (
        not has_chief and resolver.task_type == "worker" and resolver.task_id == 0
    )
