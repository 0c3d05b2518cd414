"""A small PyTorch FFNet for the conversion tests, written for this project (not the official code).

It follows the structure of Mehta et al., "Simple and Efficient Architectures for Semantic
Segmentation" (CVPR-W 2022) and reproduces the module names of the official repository
(github.com/Qualcomm-AI-research/FFNet), so its `state_dict()` has the official key layout
(`backbone_model.layer1.0.conv1.weight`, `head.layers.1.fam_32_sm.layers.0.weight`, ...).
The tests fill it with random weights and BatchNorm statistics, convert the state dict and
compare the logits with the Keras model's.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# The official constructors' arguments: stem, blocks per stage, stage widths, stage strides,
# up-head (adapter widths, branch widths), segmentation head (mid channels, classifier kernel),
# mobile (nearest) or GPU (bilinear align_corners=True) resizing.
_S, _R, _NS = (64, 128, 192, 320), (64, 128, 256, 512), (64, 128, 256)
_UP = {
    "A": ((64, 128, 256, 512), (128, 128, 128, 128)),
    "B": ((64, 128, 128, 256), (96, 96, 64, 32)),
    "C": ((128, 128, 128, 128), (128, 16, 16, 16)),
}
_SEG = {"A": (512, 1), "B": (256, 3), "C": (128, 1)}
REFERENCE_VARIANTS = {
    "ffnet40S_dBBB_mobile": ("B", (4, 5, 6, 4), _S, (2, 2, 2, 2), "B", "B", True),
    "ffnet54S_dBBB_mobile": ("B", (5, 8, 8, 5), _S, (2, 2, 2, 2), "B", "B", True),
    "ffnet78S_dBBB_mobile": ("B", (6, 12, 12, 8), _S, (2, 2, 2, 2), "B", "B", True),
    "ffnet40S_BCC_mobile": ("B", (4, 5, 6, 4), _S, (1, 2, 2, 2), "C", "C", True),
    "ffnet54S_BCC_mobile": ("B", (5, 8, 8, 5), _S, (1, 2, 2, 2), "C", "C", True),
    "ffnet78S_BCC_mobile": ("B", (6, 12, 12, 8), _S, (1, 2, 2, 2), "C", "C", True),
    "ffnet46NS_CCC_mobile": ("C", (6, 8, 8), _NS, (2, 2, 2), "C", "C", True),
    "ffnet74NS_CCC_mobile": ("C", (8, 12, 16), _NS, (2, 2, 2), "C", "C", True),
    "ffnet122NS_CCC_mobile": ("C", (16, 24, 20), _NS, (2, 2, 2), "C", "C", True),
    "ffnet18_dAAC": ("A", (2, 2, 2, 2), _R, (2, 2, 2, 2), "A", "C", False),
    "ffnet34_dAAC": ("A", (3, 4, 6, 3), _R, (2, 2, 2, 2), "A", "C", False),
}


def _conv(cin, cout, k, stride=1, bias=False):
    return nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=bias)


class ConvBNReLU(nn.Module):
    def __init__(self, cin, cout, k):
        super().__init__()
        self.layers = nn.Sequential(_conv(cin, cout, k), nn.BatchNorm2d(cout), nn.ReLU())

    def forward(self, x):
        return self.layers(x)


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1, self.bn1 = _conv(cin, cout, 3, stride), nn.BatchNorm2d(cout)
        self.conv2, self.bn2 = _conv(cout, cout, 3), nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(_conv(cin, cout, 1, stride), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(y + (x if self.downsample is None else self.downsample(x)))


class Backbone(nn.Module):
    """Stem A (conv1/bn1 + max-pool), B (conv0..1) or C (conv0..2), then layer1..layerN."""

    def __init__(self, stem, depths, widths, strides):
        super().__init__()
        self.stem = stem
        if stem == "A":
            self.conv1, self.bn1 = _conv(3, 64, 7, 2), nn.BatchNorm2d(64)
        else:
            stem_widths = {"B": (32, 64), "C": (64, 64, 64)}[stem]
            cin = 3
            for i, cout in enumerate(stem_widths):
                setattr(self, f"conv{i}", _conv(cin, cout, 3, 2 if i < 2 else 1))
                setattr(self, f"bn{i}", nn.BatchNorm2d(cout))
                cin = cout
        cin = 64
        self.num_stages = len(depths)
        for s, (depth, width, stride) in enumerate(zip(depths, widths, strides), start=1):
            blocks = [
                BasicBlock(cin if b == 0 else width, width, stride if b == 0 else 1)
                for b in range(depth)
            ]
            setattr(self, f"layer{s}", nn.Sequential(*blocks))
            cin = width

    def forward(self, x):
        if self.stem == "A":
            x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, 2, 1)
        else:
            for i in range(2 if self.stem == "B" else 3):
                x = F.relu(getattr(self, f"bn{i}")(getattr(self, f"conv{i}")(x)))
        features = [x] if self.num_stages == 3 else []
        for s in range(1, self.num_stages + 1):
            x = getattr(self, f"layer{s}")(x)
            features.append(x)
        return features


class AdapterConv(nn.Module):
    def __init__(self, in_widths, out_widths):
        super().__init__()
        self.adapter_conv = nn.ModuleList(
            ConvBNReLU(i, o, 1) for i, o in zip(in_widths, out_widths)
        )

    def forward(self, features):
        return [conv(f) for conv, f in zip(self.adapter_conv, features)]


class UpBranch(nn.Module):
    def __init__(self, widths, out_widths, resize):
        super().__init__()
        self.resize = resize
        self.fam_32_sm = ConvBNReLU(widths[3], out_widths[3], 3)
        self.fam_32_up = ConvBNReLU(widths[3], widths[2], 1)
        self.fam_16_sm = ConvBNReLU(widths[2], out_widths[2], 3)
        self.fam_16_up = ConvBNReLU(widths[2], widths[1], 1)
        self.fam_8_sm = ConvBNReLU(widths[1], out_widths[1], 3)
        self.fam_8_up = ConvBNReLU(widths[1], widths[0], 1)
        self.fam_4 = ConvBNReLU(widths[0], out_widths[0], 3)

    def forward(self, features):
        f4, f8, f16, f32 = features
        x = f32
        s32, up = self.fam_32_sm(x), self.fam_32_up(x)
        x = self.resize(up, f16) + f16
        s16, up = self.fam_16_sm(x), self.fam_16_up(x)
        x = self.resize(up, f8) + f8
        s8, up = self.fam_8_sm(x), self.fam_8_up(x)
        s4 = self.fam_4(self.resize(up, f4) + f4)
        return [s4, s8, s16, s32]


class UpsampleCat(nn.Module):
    def __init__(self, resize):
        super().__init__()
        self.resize = resize

    def forward(self, xs):
        return torch.cat([xs[0]] + [self.resize(x, xs[0]) for x in xs[1:]], dim=1)


class SegmentationHead(nn.Module):
    def __init__(self, cin, mid, kernel, num_classes):
        super().__init__()
        self.last_layer = nn.Sequential(
            _conv(cin, mid, 3, bias=True),
            nn.BatchNorm2d(mid),
            nn.ReLU(),
            _conv(mid, num_classes, kernel, bias=True),
        )

    def forward(self, x):
        return self.last_layer(x)


class Head(nn.Module):
    def __init__(self, in_widths, up, seg, mobile, num_classes):
        super().__init__()

        def resize(x, ref):
            if mobile:
                return F.interpolate(x, ref.shape[2:], mode="nearest")
            return F.interpolate(x, ref.shape[2:], mode="bilinear", align_corners=True)

        adapters, branches = _UP[up]
        mid, kernel = _SEG[seg]
        # Index 2 (UpsampleCat) has no parameters: the classifier lives at head.layers.3.
        self.layers = nn.Sequential(
            AdapterConv(in_widths, adapters),
            UpBranch(adapters, branches, resize),
            UpsampleCat(resize),
            SegmentationHead(sum(branches), mid, kernel, num_classes),
        )

    def forward(self, features):
        return self.layers(features)


class FFNetReference(nn.Module):
    """`FFNetReference(variant)(x)`: x is a normalised NCHW batch; logits at 1/4 or 1/8."""

    def __init__(self, variant, num_classes=19):
        super().__init__()
        stem, depths, widths, strides, up, seg, mobile = REFERENCE_VARIANTS[variant]
        self.backbone_model = Backbone(stem, depths, widths, strides)
        in_widths = ((64,) + widths) if len(depths) == 3 else widths
        self.head = Head(in_widths, up, seg, mobile, num_classes)

    def forward(self, x):
        return self.head(self.backbone_model(x))


def randomize(model: nn.Module, seed: int = 0) -> nn.Module:
    """Random weights and BatchNorm statistics that keep activations of order one through a
    hundred blocks, so an absolute tolerance on the logits means something."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.Conv2d):
                fan_in = module.weight[0].numel()
                module.weight.copy_(
                    torch.randn(module.weight.shape, generator=g) * (2.0 / fan_in) ** 0.5
                )
                if module.bias is not None:
                    module.bias.copy_(torch.randn(module.bias.shape, generator=g) * 0.1)
            elif isinstance(module, nn.BatchNorm2d):
                n = module.num_features
                module.weight.copy_(0.2 + 0.6 * torch.rand(n, generator=g))
                module.bias.copy_(0.1 * torch.randn(n, generator=g))
                module.running_mean.copy_(0.2 * torch.randn(n, generator=g))
                module.running_var.copy_(0.5 + torch.rand(n, generator=g))
                module.num_batches_tracked.fill_(1000)
    return model.eval()


def preprocess(images_nhwc_0_255):
    """Official preprocessing: RGB / 255, ImageNet mean and std; NHWC numpy -> NCHW tensor."""
    x = torch.from_numpy(images_nhwc_0_255).float().permute(0, 3, 1, 2) / 255.0
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (x - mean) / std


def trainable_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
