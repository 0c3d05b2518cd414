"""A dataset's class table: class names, their colours and (optionally) categories.

The model predicts class indices 0..N-1; IGNORE_LABEL (255) marks pixels that count nowhere. The
table travels with every run (`config.json`) and export (metadata), so metrics, overlays and
`predict.py` name and colour the classes of the dataset the model was trained on.
"""

from __future__ import annotations

import dataclasses

import numpy as np

IGNORE_LABEL = 255
MAX_CLASSES = IGNORE_LABEL - 1  # a class table's limit: 8-bit labels, 255 kept for ignored


@dataclasses.dataclass(frozen=True)
class ClassTable:
    names: tuple[str, ...]
    colors: tuple[tuple[int, int, int], ...]  # RGB per class
    categories: tuple[str, ...] = ()  # category names, where the dataset defines them
    class_category: tuple[int, ...] = ()  # category index of every class

    def __post_init__(self):
        if not self.names:
            raise ValueError("a class table needs at least one class")
        if len(self.names) > MAX_CLASSES:
            raise ValueError(f"at most {MAX_CLASSES} classes, got {len(self.names)}")
        if len(self.colors) != len(self.names):
            raise ValueError(f"{len(self.colors)} colours for {len(self.names)} classes")
        if len(set(self.names)) != len(self.names):
            raise ValueError(f"class names must be unique, got {list(self.names)}")
        if self.categories and len(self.class_category) != len(self.names):
            raise ValueError("every class needs a category when categories are given")

    @property
    def num_classes(self) -> int:
        return len(self.names)

    @property
    def palette(self) -> np.ndarray:
        """uint8 [256, 3]: the colour of every class index, black for the rest (255 included)."""
        palette = np.zeros((256, 3), np.uint8)
        palette[: self.num_classes] = self.colors
        return palette

    def colorize(self, class_ids: np.ndarray) -> np.ndarray:
        """(H, W) class indices -> (H, W, 3) uint8 RGB."""
        return self.palette[np.asarray(class_ids, np.uint8)]

    def overlay(self, image: np.ndarray, class_ids: np.ndarray, alpha: float = 0.5) -> np.ndarray:
        """Blend the class colours over an RGB uint8 image (H, W, 3)."""
        blended = (1.0 - alpha) * image.astype(np.float32) + alpha * self.colorize(class_ids)
        return np.clip(np.rint(blended), 0, 255).astype(np.uint8)

    def to_dict(self) -> dict:
        return {
            "names": list(self.names),
            "colors": [list(c) for c in self.colors],
            "categories": list(self.categories),
            "class_category": list(self.class_category),
        }

    @classmethod
    def from_dict(cls, d: dict) -> "ClassTable":
        return cls(
            names=tuple(d["names"]),
            colors=tuple(tuple(int(v) for v in c) for c in d["colors"]),
            categories=tuple(d.get("categories", ())),
            class_category=tuple(d.get("class_category", ())),
        )


def default_colors(n: int) -> tuple[tuple[int, int, int], ...]:
    """Distinct colours for classes that come without any (golden-ratio hues)."""
    import colorsys

    colors = []
    for i in range(n):
        r, g, b = colorsys.hsv_to_rgb((i * 0.618033988749895) % 1.0, 0.65, 0.95)
        colors.append((round(r * 255), round(g * 255), round(b * 255)))
    return tuple(colors)
