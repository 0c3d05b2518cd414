"""Reading an image file as the model takes it: RGB uint8 (H, W, 3), whatever the file holds.

Used outside the tf.data pipeline, where frames come one by one from a user's folder or a
video (prediction, test-split submissions, figures); the pipeline decodes with TensorFlow
(`decode.py`).
"""

from __future__ import annotations

import cv2
import numpy as np


def read_image(path: str) -> np.ndarray:
    """Read any image OpenCV reads as RGB uint8 (H, W, 3).

    Grayscale is replicated to three channels, alpha is dropped, 16-bit images are scaled to
    8 bits. Raises ValueError naming the file when it cannot be decoded.
    """
    image = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if image is None or image.size == 0:
        raise ValueError(f"cannot read image '{path}': not an image file OpenCV can decode")
    return to_rgb_uint8(image, bgr=True)


def image_size(path: str) -> tuple[int, int]:
    """(height, width) of an image file (decoded by `read_image`, so errors name the file)."""
    return read_image(path).shape[:2]


def to_rgb_uint8(image: np.ndarray, bgr: bool) -> np.ndarray:
    """Normalise a decoded image (gray, gray+alpha, BGR(A) or RGB(A); 8 or 16 bit) to RGB uint8."""
    if image.dtype == np.uint16:
        image = (image // 257).astype(np.uint8)
    elif image.dtype != np.uint8:
        image = np.clip(image, 0, 255).astype(np.uint8)
    if image.ndim == 2:
        image = image[:, :, None]
    channels = image.shape[2]
    if channels in (1, 2):  # gray, gray + alpha
        return np.repeat(image[:, :, :1], 3, axis=2)
    image = image[:, :, :3]
    return np.ascontiguousarray(image[:, :, ::-1] if bgr else image)
