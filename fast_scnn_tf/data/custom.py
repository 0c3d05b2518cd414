"""Your own labelled images as a dataset (`--dataset custom`).

    <data_dir>/classes.json
    <data_dir>/images/<split>/<any/sub/folders>/NAME.png|.jpg|.jpeg
    <data_dir>/labels/<split>/<any/sub/folders>/NAME.png   single-channel, 8- or 16-bit PNG of
                                                            class indices 0..N-1

`classes.json` names the classes in index order, with optional colours and ignore value:

    {"classes": [{"name": "background", "color": [0, 0, 0]}, {"name": "road"}, "car"],
     "ignore_index": 255}

A class may be a plain name; missing colours are chosen for you. Pixels holding `ignore_index`
(default 255) count nowhere; any other value outside 0..N-1 stops the run naming the file.
"""

from __future__ import annotations

import json
import os

from fast_scnn_tf.data.classes import IGNORE_LABEL, MAX_CLASSES, ClassTable, default_colors
from fast_scnn_tf.data.contract import (
    LABEL_TABLE_SIZE,
    Dataset,
    find_images,
    pair_with_labels,
    value_table,
)

CLASSES_FILE = "classes.json"
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")
SPLITS = ("train", "val", "test")
LAYOUT = (
    "expected <data_dir>/classes.json, <data_dir>/images/<split>/NAME.png|jpg and "
    "<data_dir>/labels/<split>/NAME.png (single-channel class indices)"
)


def read_classes(data_dir: str) -> tuple[ClassTable, int]:
    """(class table, ignore value) from `<data_dir>/classes.json`; errors name the file."""
    path = os.path.join(data_dir, CLASSES_FILE)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no '{path}'; {LAYOUT}")
    try:
        with open(path) as f:
            spec = json.load(f)
    except (OSError, ValueError) as e:
        raise ValueError(f"'{path}' is not valid JSON: {e}") from e
    entries = spec.get("classes") if isinstance(spec, dict) else None
    if not isinstance(entries, list) or not entries:
        raise ValueError(
            f"'{path}' needs a non-empty \"classes\" list of names or "
            '{"name": ..., "color": [r, g, b]} objects'
        )
    unknown = set(spec) - {"classes", "ignore_index"}
    if unknown:
        raise ValueError(
            f"'{path}' has unknown keys {sorted(unknown)}: expected \"classes\" and "
            'optionally "ignore_index"'
        )
    if len(entries) > MAX_CLASSES:  # before ignore_index's range, which it would make empty
        raise ValueError(
            f"'{path}' lists {len(entries)} classes: at most {MAX_CLASSES} (labels "
            "are 8-bit class indices and one value marks ignored pixels)"
        )
    names, colors = [], []
    fallback = default_colors(len(entries))
    for i, entry in enumerate(entries):
        entry = {"name": entry} if isinstance(entry, str) else entry
        color = entry.get("color", fallback[i]) if isinstance(entry, dict) else None
        if (
            not isinstance(entry, dict)
            or not isinstance(entry.get("name"), str)
            or not _is_color(color)
        ):
            raise ValueError(
                f"'{path}': class {i} is {entry!r}; expected a name or "
                '{"name": str, "color": [r, g, b]}, three integers 0..255'
            )
        names.append(entry["name"])
        colors.append(tuple(color))
    ignore = spec.get("ignore_index", IGNORE_LABEL)
    if not isinstance(ignore, int) or not len(names) <= ignore < LABEL_TABLE_SIZE - 1:
        raise ValueError(
            f"'{path}': ignore_index must be an integer in {len(names)}..255 "
            f"(not a class index), got {ignore!r}"
        )
    try:
        return ClassTable(names=tuple(names), colors=tuple(colors)), ignore
    except ValueError as e:
        raise ValueError(f"'{path}': {e}") from e


def _is_color(value) -> bool:
    return (
        isinstance(value, (list, tuple))
        and len(value) == 3
        and all(type(c) is int and 0 <= c <= 255 for c in value)
    )  # not bool, a kind of int


def _split_dir(data_dir: str, kind: str, split: str) -> str:
    if split not in SPLITS:
        raise ValueError(
            f"folder dataset has no split '{split}': expected one of {', '.join(SPLITS)}"
        )
    return os.path.join(data_dir, kind, split)


def _find(folder: str) -> list[str]:
    return [
        os.path.join(root, name)
        for root, _, files in os.walk(folder)
        for name in files
        if name.lower().endswith(IMAGE_EXTENSIONS)
    ]


def list_images(data_dir: str, split: str) -> list[str]:
    return find_images(
        data_dir,
        _split_dir(data_dir, "images", split),
        split,
        _find,
        f"{'/'.join(IMAGE_EXTENSIONS)} files",
        LAYOUT,
    )


def list_frames(data_dir: str, split: str) -> list[tuple[str, str]]:
    images = list_images(data_dir, split)
    image_dir = _split_dir(data_dir, "images", split)
    label_dir = _split_dir(data_dir, "labels", split)

    def stem(image: str) -> str:  # the path below images/<split>/ without the extension
        return os.path.splitext(os.path.relpath(image, image_dir))[0]

    seen = {}
    for image in images:
        if stem(image) in seen:
            raise ValueError(
                f"images '{seen[stem(image)]}' and '{image}' would share the label "
                f"'{stem(image)}.png': keep one image per name"
            )
        seen[stem(image)] = image
    return pair_with_labels(
        images,
        image_dir,
        label_dir,
        lambda image: os.path.join(label_dir, stem(image) + ".png"),
        LAYOUT,
    )


def frame_names(data_dir: str):
    """image path -> its path below `images/<split>/` without the extension, with `/` between
    folders (`cam_a/f0`): frames of two sub-folders may share a file name, and predictions named
    by the file name alone replaced each other."""
    images_dir = os.path.join(data_dir, "images")

    def frame_name(image_path: str) -> str:
        below_split = os.path.relpath(image_path, images_dir).split(os.sep)[1:]
        return os.path.splitext("/".join(below_split))[0]

    return frame_name


def dataset(data_dir: str) -> Dataset:
    classes, ignore = read_classes(data_dir)
    return Dataset(
        name="folder",
        classes=classes,
        label_values=value_table(
            {**{i: i for i in range(classes.num_classes)}, ignore: IGNORE_LABEL}
        ),
        list_frames=list_frames,
        list_images=list_images,
        frame_name=frame_names(data_dir),
        splits=SPLITS,
        labelled_splits=SPLITS,
        layout=LAYOUT,
    )
