"""A minimal PyTorch Fast-SCNN, as the public PyTorch ports build it, for one speed comparison:
`inference.py` times it on the CPU beside the TFLite models when `torch` is installed (it is not a
project requirement: `pip install torch` to include it). Random weights; eval mode, eager,
`torch.inference_mode`, in PyTorch's default NCHW layout or channels-last (NHWC in memory, the
faster form on CPUs for depthwise-heavy networks). Same layers as `fast_scnn_tf/model/fast_scnn.py`
(Table 1 of the paper): DSConv = depthwise 3x3 + BN, then pointwise 1x1 + BN + ReLU; linear
bottleneck projections; PPM bins 1, 2, 3, 6; FFM with a dilation-4 depthwise conv; bilinear x8 to
the input size.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def conv_bn(cin, cout, kernel=1, stride=1, groups=1, dilation=1, relu=True):
    padding = dilation * (kernel // 2)
    layers = [
        nn.Conv2d(cin, cout, kernel, stride, padding, dilation, groups, bias=False),
        nn.BatchNorm2d(cout),
    ]
    return nn.Sequential(*layers, nn.ReLU(inplace=True)) if relu else nn.Sequential(*layers)


def ds_conv(cin, cout, stride=1):
    return nn.Sequential(conv_bn(cin, cin, 3, stride, groups=cin, relu=False), conv_bn(cin, cout))


class Bottleneck(nn.Module):
    def __init__(self, cin, cout, stride, t=6):
        super().__init__()
        self.residual = stride == 1 and cin == cout
        self.block = nn.Sequential(
            conv_bn(cin, cin * t),
            conv_bn(cin * t, cin * t, 3, stride, groups=cin * t),
            conv_bn(cin * t, cout, relu=False),
        )

    def forward(self, x):
        return x + self.block(x) if self.residual else self.block(x)


class PyramidPooling(nn.Module):
    def __init__(self, channels, bins=(1, 2, 3, 6)):
        super().__init__()
        self.bins = bins
        self.convs = nn.ModuleList(conv_bn(channels, channels // 4) for _ in bins)
        self.out = conv_bn(channels * 2, channels)

    def forward(self, x):
        size = x.shape[2:]
        pooled = [
            F.interpolate(
                conv(F.adaptive_avg_pool2d(x, b)), size, mode="bilinear", align_corners=False
            )
            for b, conv in zip(self.bins, self.convs)
        ]
        return self.out(torch.cat([x, *pooled], 1))


class FastSCNN(nn.Module):
    def __init__(self, num_classes=19):
        super().__init__()
        self.learning_to_downsample = nn.Sequential(
            conv_bn(3, 32, 3, 2), ds_conv(32, 48, 2), ds_conv(48, 64, 2)
        )
        blocks = []
        for cin, cout, stride in ((64, 64, 2), (64, 96, 2), (96, 128, 1)):
            blocks += [
                Bottleneck(cin, cout, stride),
                Bottleneck(cout, cout, 1),
                Bottleneck(cout, cout, 1),
            ]
        self.global_feature_extractor = nn.Sequential(*blocks, PyramidPooling(128))
        self.ffm_low = nn.Sequential(
            conv_bn(128, 128, 3, groups=128, dilation=4), conv_bn(128, 128, relu=False)
        )
        self.ffm_skip = conv_bn(64, 128, relu=False)
        self.classifier = nn.Sequential(
            ds_conv(128, 128), ds_conv(128, 128), nn.Dropout(0.1), nn.Conv2d(128, num_classes, 1)
        )
        self.register_buffer("mean", torch.tensor([123.675, 116.28, 103.53]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([58.395, 57.12, 57.375]).view(1, 3, 1, 1))

    def forward(self, x):
        size = x.shape[2:]
        x = (x - self.mean) / self.std  # RGB 0..255 in, normalised inside like the Keras model
        skip = self.learning_to_downsample(x)
        low = self.global_feature_extractor(skip)
        low = F.interpolate(low, skip.shape[2:], mode="bilinear", align_corners=False)
        fused = F.relu(self.ffm_skip(skip) + self.ffm_low(low))
        return F.interpolate(self.classifier(fused), size, mode="bilinear", align_corners=False)


def head(mode: str, height: int, width: int, threads: int, channels_last: bool = False):
    """A no-argument callable running one random frame through the cls (argmax -> uint8) or prob
    (softmax) output, on `threads` CPU threads, with the model and frame in channels-last memory
    format when `channels_last`."""
    torch.set_num_threads(threads)
    model = FastSCNN().eval()
    image = torch.rand(1, 3, height, width) * 255
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        image = image.contiguous(memory_format=torch.channels_last)

    @torch.inference_mode()
    def run():
        logits = model(image)
        return logits.argmax(1).to(torch.uint8) if mode == "cls" else logits.softmax(1)

    return run


def num_parameters() -> int:
    """Trainable parameters (the Keras model has 1,137,795)."""
    return sum(p.numel() for p in FastSCNN().parameters() if p.requires_grad)
