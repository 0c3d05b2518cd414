"""The datasets as one table: the one place that knows which datasets a run can name
(`DataConfig.dataset`, `--dataset`), how each is loaded and what its folder holds.

    cityscapes  the official layout; labelIds 0..33 -> 19 train ids (the default)
    camvid      the SegNet layout train/ trainannot/ val/ valannot/ test/ testannot/; 11 classes
    custom      your own: images/<split>/..., labels/<split>/... and classes.json

The input pipeline, the evaluation and the scripts ask `dataset_for(config)` and never branch on a
dataset's name; each dataset's file (`cityscapes.py`, `camvid.py`, `custom.py`) holds its
layout and class table, and `contract.py` what a dataset is. Adding a dataset: its file, one entry
in DATASETS below.
"""

from __future__ import annotations

from fast_scnn_tf.data import camvid, cityscapes, custom
from fast_scnn_tf.data.contract import Dataset, DatasetEntry

DATASETS = {
    "cityscapes": DatasetEntry(
        load=lambda cfg: cityscapes.dataset(use_coarse=cfg.use_coarse),
        about="the official layout: leftImg8bit/ and gtFine/ from "
        "https://www.cityscapes-dataset.com",
        tfds_name=cityscapes.TFDS_NAME,
    ),
    "camvid": DatasetEntry(
        load=lambda cfg: camvid.DATASET,
        about="the SegNet layout: train/ trainannot/ val/ valannot/ test/ testannot/",
    ),
    "custom": DatasetEntry(
        load=lambda cfg: custom.dataset(cfg.data_dir),
        about="your own: images/<split>/, labels/<split>/ and classes.json",
    ),
}
# Names runs were saved with before a dataset was renamed (`custom` was `folder`, easily taken
# for `--data-source folder`); Config.from_dict reads them as the new name.
RENAMED = {"folder": "custom"}


def dataset_for(data_cfg) -> Dataset:
    """The Dataset a DataConfig names (`custom` reads `<data_dir>/classes.json`)."""
    entry = DATASETS.get(data_cfg.dataset)
    if entry is None:
        raise ValueError(
            f"unknown dataset '{data_cfg.dataset}': expected one of {', '.join(DATASETS)}"
        )
    return entry.load(data_cfg)


def describe() -> str:
    """Each dataset's name and what its folder holds, for --help and error messages."""
    return "; ".join(f"{name} ({entry.about})" for name, entry in DATASETS.items())


def tfds_datasets() -> list[str]:
    """The datasets `--data-source tfds` can read."""
    return [name for name, entry in DATASETS.items() if entry.tfds_name]
