"""FFNet (Mehta et al., CVPR-W 2022): stems, backbones, up-heads, segmentation heads and the
variant table. `build_ffnet(name)` builds one; `torch_weights.py` maps the official PyTorch
weights onto it (`python -m fast_scnn_tf.convert`; imported only by that command)."""

from fast_scnn_tf.model.ffnet.ffnet import FFNET_VARIANTS, FFNetVariant, build_ffnet

__all__ = ["FFNET_VARIANTS", "FFNetVariant", "build_ffnet"]
