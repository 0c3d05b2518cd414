"""The paper's augmentations: ranges honoured, padding with 255, image and label kept aligned."""

import numpy as np
import pytest
import tensorflow as tf

from fast_scnn_tf.data import augment
from fast_scnn_tf.data.classes import IGNORE_LABEL

MARK = 5  # train id of the marked rectangle


def marked_frame(h=37, w=53):
    """An odd-sized frame whose label has an off-centre rectangle of MARK, drawn red on the image
    (everything else blue), so misalignment of image and label shows up as a low overlap."""
    label = np.full((h, w), 2, np.uint8)
    label[h // 5 : h // 2, w // 6 : w // 2] = MARK
    image = np.zeros((h, w, 3), np.float32)
    image[..., 2] = 255
    image[label == MARK] = (255, 0, 0)
    return tf.constant(image), tf.constant(label)


def overlap(image, label):
    """IoU of 'label is MARK' and 'image is red'."""
    image, label = np.asarray(image), np.asarray(label)
    red = image[..., 0] > 127
    mark = label == MARK
    return (red & mark).sum() / max((red | mark).sum(), 1)


def seed(i):
    return tf.constant([i, 7], tf.int64)


def test_resize_factor_stays_in_range():
    image, label = marked_frame(40, 60)
    factors = []
    for i in range(40):
        _, resized = augment.random_resize(image, label, 0.5, 2.0, seed(i))
        factors.append(resized.shape[0] / 40)
        assert abs(resized.shape[1] / 60 - factors[-1]) < 1 / 40  # one factor for both axes
    assert min(factors) >= 0.5 - 1 / 40 and max(factors) <= 2.0 + 1 / 40
    assert max(factors) - min(factors) > 0.8  # really random over the range


def test_resize_with_equal_bounds_is_exact():
    image, label = marked_frame(37, 53)
    out_image, out_label = augment.random_resize(image, label, 1.5, 1.5, seed(0))
    assert out_image.shape == (56, 80, 3) and out_label.shape == (56, 80)


def test_resize_keeps_label_values_never_interpolated():
    image, label = marked_frame()
    _, out = augment.random_resize(image, label, 0.5, 2.0, seed(3))
    assert out.dtype == tf.uint8
    assert set(np.unique(out.numpy())) <= {2, MARK}


@pytest.mark.parametrize("i", range(5))
def test_resize_keeps_image_and_label_aligned(i):
    image, label = marked_frame()
    assert overlap(*augment.random_resize(image, label, 0.5, 2.0, seed(i))) > 0.8


@pytest.mark.parametrize("i", range(5))
def test_crop_keeps_image_and_label_aligned(i):
    image, label = marked_frame(60, 90)
    out_image, out_label = augment.random_crop(image, label, (41, 63), seed(i))
    assert out_image.shape == (41, 63, 3) and out_label.shape == (41, 63)
    assert (out_label.numpy() == MARK).sum() > 100  # any 41x63 window holds part of the mark
    assert overlap(out_image, out_label) == 1.0


def test_crop_is_a_window_of_the_frame():
    h, w = 30, 45
    rows, cols = np.mgrid[0:h, 0:w]
    image = tf.constant(np.stack([rows, cols, np.zeros_like(rows)], -1).astype(np.float32))
    label = tf.constant(((rows * 3 + cols) % 200).astype(np.uint8))
    out_image, out_label = augment.random_crop(image, label, (11, 17), seed(1))
    top, left = int(out_image[0, 0, 0]), int(out_image[0, 0, 1])
    np.testing.assert_array_equal(out_image[..., 0], rows[top : top + 11, left : left + 17])
    np.testing.assert_array_equal(out_image[..., 1], cols[top : top + 11, left : left + 17])
    np.testing.assert_array_equal(out_label, label.numpy()[top : top + 11, left : left + 17])


def test_crop_offsets_cover_the_frame():
    _, label = marked_frame(20, 20)
    image = tf.reshape(tf.range(400, dtype=tf.float32), [20, 20, 1]) * tf.ones([1, 1, 3])
    corners = {
        int(augment.random_crop(image, label, (10, 10), seed(i))[0][0, 0, 0]) for i in range(100)
    }
    assert {c // 20 for c in corners} == set(range(11))  # every top offset, ends included
    assert {c % 20 for c in corners} == set(range(11))


def test_padding_uses_ignore_label_and_pad_value():
    image, label = marked_frame(13, 17)
    out_image, out_label = augment.random_crop(image, label, (32, 40), seed(2), image_pad_value=7.0)
    out_image, out_label = out_image.numpy(), out_label.numpy()
    assert out_label.shape == (32, 40)
    padded = out_label == IGNORE_LABEL
    assert padded.sum() == 32 * 40 - 13 * 17  # every frame pixel kept, the rest is 255
    assert np.all(out_image[padded] == 7.0)
    assert overlap(out_image, out_label) == 1.0


def test_padding_places_the_frame_at_random_offsets():
    image, label = marked_frame(10, 10)
    tops = set()
    for i in range(30):
        out_label = augment.random_crop(image, label, (30, 30), seed(i))[1].numpy()
        tops.add(int(np.argmax((out_label != IGNORE_LABEL).any(axis=1))))
    assert len(tops) > 5


def test_flip_mirrors_both_or_neither():
    image, label = marked_frame()
    flipped = 0
    for i in range(100):
        out_image, out_label = augment.random_flip(image, label, seed(i))
        if np.array_equal(out_label, label.numpy()[:, ::-1]):
            flipped += 1
            np.testing.assert_array_equal(out_image, image.numpy()[:, ::-1])
        else:
            np.testing.assert_array_equal(out_label, label)
            np.testing.assert_array_equal(out_image, image)
    assert 25 < flipped < 75


def test_color_noise_shifts_each_channel_by_its_own_offset():
    image = tf.fill([9, 11, 3], 128.0)
    offsets = []
    for i in range(200):
        out = augment.color_noise(image, 10.0, seed(i)).numpy()
        delta = out - 128.0
        assert np.allclose(delta, delta[0, 0])  # one offset per channel over the whole frame
        offsets.append(delta[0, 0])
    offsets = np.array(offsets)
    assert 8.0 < offsets.std() < 12.0
    assert np.mean(np.abs(offsets[:, 0] - offsets[:, 1]) > 1e-3) > 0.9  # channels independent


def test_color_noise_and_brightness_stay_in_pixel_range():
    image = tf.constant(np.array([[[0, 255, 3]]], np.float32))
    for i in range(30):
        for out in (
            augment.color_noise(image, 50.0, seed(i)),
            augment.random_brightness(image, 100.0, seed(i)),
        ):
            assert 0.0 <= float(tf.reduce_min(out)) and float(tf.reduce_max(out)) <= 255.0


def test_brightness_adds_one_bounded_value():
    image = tf.fill([5, 7, 3], 100.0)
    deltas = []
    for i in range(100):
        out = augment.random_brightness(image, 30.0, seed(i)).numpy()
        assert np.allclose(out, out[0, 0, 0])
        deltas.append(out[0, 0, 0] - 100.0)
    assert min(deltas) >= -30.0 and max(deltas) <= 30.0
    assert min(deltas) < -15 and max(deltas) > 15


@pytest.mark.parametrize("i", range(6))
def test_full_chain_keeps_alignment_and_shape(i):
    image, label = marked_frame(45, 71)
    out_image, out_label = augment.augment(
        tf.cast(image, tf.uint8),
        label,
        crop_size=(33, 47),
        min_scale=0.5,
        max_scale=2.0,
        flip=True,
        color_noise_std=10.0,
        brightness=30.0,
        seed=seed(i),
    )
    assert out_image.dtype == tf.float32 and out_label.dtype == tf.uint8
    assert out_image.shape == (33, 47, 3) and out_label.shape == (33, 47)
    if (out_label.numpy() == MARK).sum() > 20:
        assert overlap(out_image, out_label) > 0.7


def test_full_chain_is_a_function_of_the_seed():
    image, label = marked_frame()
    kwargs = dict(
        crop_size=(20, 30),
        min_scale=0.5,
        max_scale=2.0,
        flip=True,
        color_noise_std=10.0,
        brightness=30.0,
    )
    a = augment.augment(image, label, seed=seed(4), **kwargs)
    b = augment.augment(image, label, seed=seed(4), **kwargs)
    c = augment.augment(image, label, seed=seed(5), **kwargs)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])
