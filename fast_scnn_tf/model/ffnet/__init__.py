"""FFNet (Mehta et al., CVPR-W 2022): stems, backbones, up-heads, segmentation heads and the
variant table. `build_ffnet(name)` builds one; `fast_scnn_tf.convert` loads official weights."""

from fast_scnn_tf.model.ffnet.ffnet import FFNET_VARIANTS, FFNetVariant, build_ffnet
