"""What a dataset is read with: `DataConfig`, the `data` section of a run's config.json
(`fast_scnn_tf.config.Config`). It lives with the data stage, which reads it, so the stage never
imports the run's config."""

from __future__ import annotations

import dataclasses

SOURCES = ("folder", "tfds")  # DataConfig.source


@dataclasses.dataclass
class DataConfig:
    dataset: str = "cityscapes"  # a name of fast_scnn_tf.data.datasets.DATASETS
    source: str = "folder"  # "folder" (files on disk) or "tfds" (cityscapes/semantic_segmentation)
    data_dir: str = ""  # dataset root (folder) or the tfds manual_dir holding the zips (tfds)
    # The split training reads: train, or CamVid's trainval (train + val, the protocol of CGNet,
    # DABNet and LMFFNet; epochs are then fixed in advance, as val is no longer held out).
    train_split: str = "train"
    tfds_data_dir: str = ""  # where tfds keeps the prepared dataset; "" = tfds default
    use_coarse: bool = False  # add gtCoarse/train_extra to training (the paper's coarse experiment)
    # The paper gives no crop size: full frames are our choice (the mmseg preset uses 512x1024).
    crop_size: tuple[int, int] = (1024, 2048)
    min_scale: float = 0.5
    max_scale: float = 2.0
    flip: bool = True
    # Frames are resized by this factor before the model sees them: at validation, evaluation and
    # prediction, and the random training resize (min_scale..max_scale) is relative to it. > 1
    # gives the 1/32 branch more pixels on small frames (CamVid's 360x480: 12x15 at scale 1).
    input_scale: float = 1.0
    color_noise: float = 10.0  # std of a per-channel colour shift (one per frame), 0..255 units
    brightness: float = 30.0  # max absolute brightness change, in 0..255 pixel units
    # tfds source only: tfrecords are shuffled within windows of this many encoded frames
    # (~2.5 MB each); the folder source draws a full permutation of its file list every epoch.
    shuffle_buffer: int = 256
    deterministic: bool = False  # ordered parallel map: same seed -> same batches (resumable)
    seed: int = 0  # used when deterministic and no seed is passed to build_dataset
