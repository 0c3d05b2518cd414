"""Model size and cost: trainable parameters and multiply-accumulates (MACs) of one forward pass
at a fixed input size, counted from the convolution and dense layers (what papers report as
GMACs; BatchNorm, activations, pooling and resizes are left out, as they usually are)."""

from __future__ import annotations

import math

import keras


def trainable_parameters(model: keras.Model) -> int:
    return sum(math.prod(w.shape) for w in model.trainable_weights)


def macs(model: keras.Model) -> int:
    """MACs of `model` (built with a static input shape) for one image."""
    total = 0
    for layer in _layers(model):
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D)):
            _, height, width, channels = layer.output.shape
            if None in (height, width):
                raise ValueError("count MACs on a model built with a static input_shape")
            kernel = math.prod(layer.kernel.shape)  # kh * kw * cin (* cout, or * multiplier)
            total += height * width * kernel
        elif isinstance(layer, keras.layers.Dense):
            total += math.prod(layer.kernel.shape) * math.prod(layer.output.shape[1:-1])
    return total


def _layers(model):
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _layers(layer)
        else:
            yield layer
