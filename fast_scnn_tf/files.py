"""Writing files so that a crash or a failed step never leaves a half-written one: everything is
written to a temporary name beside the target and renamed into place."""

from __future__ import annotations

import json
import os

import cv2
import numpy as np


def write_bytes(path: str, data: bytes) -> None:
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def write_json(path: str, data) -> None:
    """Indented JSON with sorted keys."""
    write_bytes(path, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode())


def write_png(path: str, array: np.ndarray) -> None:
    """A PNG of a (H, W) label map or an (H, W, 3) RGB image."""
    if array.ndim == 3:
        array = cv2.cvtColor(array, cv2.COLOR_RGB2BGR)
    ok, encoded = cv2.imencode(".png", array)
    if not ok:
        raise OSError(f"could not encode '{path}' as PNG")
    write_bytes(path, encoded.tobytes())
