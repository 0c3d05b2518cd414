"""Writing synthetic street scenes (`scene.render_scene`) as a dataset folder in the official
Cityscapes layout, whose names come from `fast_scnn_tf.data.cityscapes_layout`, and its command
line:

    python -m fast_scnn_tf.synthetic --out data/synthetic --num-train 60 --num-val 20
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import cv2
import numpy as np

from fast_scnn_tf.data import cityscapes_layout as layout
from fast_scnn_tf.synthetic.scene import render_scene

# Made-up city names (lowercase letters, as the official tools' file pattern requires).
CITIES = {"train": ("alderwick", "brenford", "corvale"), "val": ("dunmere", "elsbury")}
_SPLIT_INDEX = {"train": 0, "val": 1}
FRAME = 19  # every sequence's annotated frame, as in Cityscapes (`<city>_<seq>_000019`)


def frame_paths(out_dir: str, split: str, city: str, index: int) -> tuple[str, str]:
    """(image, labelIds) paths of frame `index` of `split` in the official layout and naming."""
    return layout.frame_paths(out_dir, split, layout.frame_stem(city, index, FRAME))


def generate(
    out_dir: str,
    num_train: int,
    num_val: int,
    size: tuple[int, int] = (256, 512),
    seed: int = 0,
    progress: bool = False,
) -> list[str]:
    """Write `num_train` train and `num_val` val frames of `size` (H, W) under `out_dir`.

    Returns the image paths. Frame i of a split is the same for a seed whatever the counts."""
    written = []
    for split, count in (("train", num_train), ("val", num_val)):
        cities = CITIES[split]
        for i in range(count):
            rng = np.random.default_rng([seed, _SPLIT_INDEX[split], i])
            image, label_ids = render_scene(tuple(size), rng)
            image_path, label_path = frame_paths(out_dir, split, cities[i % len(cities)], i)
            os.makedirs(os.path.dirname(image_path), exist_ok=True)
            os.makedirs(os.path.dirname(label_path), exist_ok=True)
            for path, array in ((image_path, image[:, :, ::-1]), (label_path, label_ids)):
                if not cv2.imwrite(path, array):
                    raise OSError(f"could not write '{path}'")
            written.append(image_path)
            if progress:
                print(f"\r{split}: {i + 1}/{count}", end="", file=sys.stderr, flush=True)
        if progress and count:
            print(file=sys.stderr)
    return written


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m fast_scnn_tf.synthetic",
        description="Write synthetic street scenes in the official Cityscapes layout "
        f"({layout.IMAGE_DIR}/ and {layout.FINE_DIR}/ *{layout.FINE_SUFFIX}).",
    )
    parser.add_argument("--out", required=True, help="dataset root to write into")
    parser.add_argument("--num-train", type=int, default=60, help="train frames (default 60)")
    parser.add_argument("--num-val", type=int, default=20, help="val frames (default 20)")
    parser.add_argument(
        "--size",
        type=int,
        nargs=2,
        default=(256, 512),
        metavar=("H", "W"),
        help="frame height and width (default 256 512; Cityscapes: 1024 2048)",
    )
    parser.add_argument("--seed", type=int, default=0, help="frames depend only on the seed")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    paths = generate(
        args.out, args.num_train, args.num_val, tuple(args.size), args.seed, progress=True
    )
    print(
        f"wrote {len(paths)} frames of {args.size[0]}x{args.size[1]} to {args.out} "
        f"in {time.perf_counter() - start:.1f} s"
    )
