"""Procedural street scenes: an image and its exact Cityscapes label ids, drawn together.

Nobody here can download Cityscapes, so this draws frames that need a model to learn something:
a pinhole camera over a street (perspective road with lane marks, sidewalks, terrain, facades with
windows, walls, fences, trees, poles with signs and lights, parked and driving cars, trucks, buses,
people, cyclists, bins, the ego vehicle's bonnet, sky with clouds), every surface textured with
multi-scale noise and its colour varied per object, then blurred and noised like a camera.
Labels are Cityscapes label ids (train classes plus a few void ids), drawn with the same masks as
the image, so they are exact. A scene depends only on the random generator it is given.
"""

from __future__ import annotations

import cv2
import numpy as np

from fast_scnn_tf.data import cityscapes_labels as labels

ID = {label.name: label.id for label in labels.CITYSCAPES_LABELS}


class _Camera:
    """Pinhole camera `height` metres above flat ground, looking along +Z; X right, Y up."""

    def __init__(self, focal: float, cx: float, horizon: float, height: float):
        self.focal, self.cx, self.horizon, self.height = focal, cx, horizon, height

    def project(self, points) -> np.ndarray:
        p = np.asarray(points, np.float64).reshape(-1, 3)
        z = np.maximum(p[:, 2], 0.05)
        return np.stack(
            [
                self.cx + self.focal * p[:, 0] / z,
                self.horizon + self.focal * (self.height - p[:, 1]) / z,
            ],
            axis=1,
        )

    def scale(self, z: float) -> float:
        """Pixels per metre at depth z."""
        return self.focal / z


class _Canvas:
    """Image and label drawn together: every shape writes its texture and its label id."""

    def __init__(self, h: int, w: int, rng: np.random.Generator):
        self.h, self.w, self.rng = h, w, rng
        self.image = np.zeros((h, w, 3), np.float32)
        self.label = np.zeros((h, w), np.uint8)
        self.fine = rng.standard_normal((h, w), dtype=np.float32)
        self.mid = self._smooth_noise(max(2.0, w / 160))
        self.coarse = self._smooth_noise(max(4.0, w / 24))

    def _smooth_noise(self, cell: float) -> np.ndarray:
        small = self.rng.standard_normal((int(self.h / cell) + 2, int(self.w / cell) + 2))
        return cv2.resize(small.astype(np.float32), (self.w, self.h), interpolation=cv2.INTER_CUBIC)

    def _paint(
        self,
        mask: np.ndarray,
        x0: int,
        y0: int,
        label_id: int,
        colour,
        texture,
        stripes: float = 0.0,
    ) -> None:
        m = mask.astype(bool)
        if not m.any():
            return
        h, w = mask.shape
        window = (slice(y0, y0 + h), slice(x0, x0 + w))
        fine, mid, coarse = texture
        shade = (
            1.0 + fine * self.fine[window] + mid * self.mid[window] + coarse * self.coarse[window]
        )
        if stripes > 0:  # vertical boards/slats, period in pixels
            shade = shade * (0.8 + 0.2 * (np.sin(np.arange(x0, x0 + w) * 2 * np.pi / stripes) > 0))
        self.image[window][m] = (np.asarray(colour, np.float32) * shade[..., None])[m]
        self.label[window][m] = label_id

    def _bbox(self, pts: np.ndarray, pad: float = 1.0):
        x0 = max(int(np.floor(pts[:, 0].min() - pad)), 0)
        y0 = max(int(np.floor(pts[:, 1].min() - pad)), 0)
        x1 = min(int(np.ceil(pts[:, 0].max() + pad)) + 1, self.w)
        y1 = min(int(np.ceil(pts[:, 1].max() + pad)) + 1, self.h)
        return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None

    def polygon(self, pts, label_id: int, colour, texture=(0.03, 0.06, 0.06), stripes=0.0):
        self.polygons([pts], label_id, colour, texture, stripes)

    def polygons(self, polys, label_id: int, colour, texture=(0.03, 0.06, 0.06), stripes=0.0):
        """Several polygons in one colour (one mask: much faster than one call each)."""
        polys = [np.asarray(p, np.float64) for p in polys]
        if not polys:
            return
        box = self._bbox(np.concatenate(polys))
        if box is None:
            return
        x0, y0, x1, y1 = box
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        local = [
            np.round(np.clip((p - [x0, y0]) * 16, -(2**26), 2**26)).astype(np.int32) for p in polys
        ]
        cv2.fillPoly(mask, local, 1, cv2.LINE_8, shift=4)
        self._paint(mask, x0, y0, label_id, colour, texture, stripes)

    def ellipse(self, center, axes, label_id: int, colour, texture=(0.03, 0.06, 0.06)):
        cx, cy = center
        ax, ay = max(axes[0], 0.5), max(axes[1], 0.5)
        box = self._bbox(np.array([[cx - ax, cy - ay], [cx + ax, cy + ay]]))
        if box is None:
            return
        x0, y0, x1, y1 = box
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.ellipse(
            mask,
            (round((cx - x0) * 16), round((cy - y0) * 16)),
            (round(ax * 16), round(ay * 16)),
            0,
            0,
            360,
            1,
            -1,
            cv2.LINE_8,
            shift=4,
        )
        self._paint(mask, x0, y0, label_id, colour, texture)

    def polyline(self, pts, thickness: float, label_id: int, colour, closed=False):
        pts = np.asarray(pts, np.float64)
        box = self._bbox(pts, pad=thickness)
        if box is None:
            return
        x0, y0, x1, y1 = box
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        local = np.round((pts - [x0, y0]) * 16).astype(np.int32)
        cv2.polylines(mask, [local], closed, 1, max(1, round(thickness)), cv2.LINE_8, shift=4)
        self._paint(mask, x0, y0, label_id, colour, (0.02, 0.03, 0.0))


def _jitter(rng, colour, amount=0.12):
    """A colour varied per object: overall brightness and a little per channel."""
    c = np.asarray(colour, np.float32)
    return np.clip(c * rng.uniform(1 - amount, 1 + amount) * rng.uniform(0.93, 1.07, 3), 0, 255)


FACADE_COLOURS = [
    (170, 160, 145),
    (200, 190, 170),
    (150, 95, 80),
    (120, 120, 125),
    (215, 210, 200),
    (185, 150, 110),
    (100, 90, 85),
    (160, 170, 175),
]
CAR_COLOURS = [
    (230, 230, 230),
    (25, 25, 30),
    (160, 165, 170),
    (150, 25, 25),
    (30, 50, 120),
    (90, 95, 100),
    (200, 190, 170),
    (40, 80, 50),
]
CLOTH_COLOURS = [
    (30, 30, 35),
    (40, 50, 90),
    (150, 30, 40),
    (200, 200, 195),
    (90, 70, 50),
    (60, 100, 60),
    (180, 150, 60),
    (120, 120, 130),
]
SKIN_COLOURS = [(225, 190, 160), (190, 140, 110), (140, 95, 70), (90, 60, 45)]
VEGETATION = (70, 105, 40)


def _sky(c: _Canvas, cam: _Camera, rng) -> None:
    rows = np.linspace(0.0, 1.0, c.h, dtype=np.float32)[:, None, None]
    top = _jitter(rng, (70, 120, 190), 0.15)
    low = _jitter(rng, (200, 215, 230), 0.08)
    t = np.clip(rows * c.h / max(cam.horizon, 1.0), 0, 1)
    sky = top * (1 - t) + low * t
    clouds = np.clip((c.coarse + 0.5 * c.mid - rng.uniform(0.0, 1.0)) * 0.8, 0, 1)[..., None]
    c.image[:] = sky * (1 - clouds) + _jitter(rng, (235, 235, 238), 0.05) * clouds
    c.label[:] = ID["sky"]


def _ground_quad(cam, x0, x1, z0, z1, y=0.0):
    return cam.project([(x0, y, z0), (x1, y, z0), (x1, y, z1), (x0, y, z1)])


def _wall_quad(cam, x, z0, z1, y0, y1):
    """A vertical rectangle on the plane X = x (a facade seen from the street)."""
    return cam.project([(x, y0, z0), (x, y0, z1), (x, y1, z1), (x, y1, z0)])


def _facade(c, cam, rng, x, z0, z1, height):
    """A building on the plane X = x: textured wall, cornice, window grid, door."""
    colour = _jitter(rng, FACADE_COLOURS[rng.integers(len(FACADE_COLOURS))])
    c.polygon(_wall_quad(cam, x, z0, z1, 0, height), ID["building"], colour, (0.03, 0.05, 0.08))
    c.polygon(_wall_quad(cam, x, z0, z1, height - 0.5, height), ID["building"], colour * 0.75)
    window = _jitter(rng, (60, 75, 90), 0.3)
    floor_h = rng.uniform(2.8, 3.6)
    spacing = rng.uniform(2.0, 3.5)
    win_w, win_h = spacing * rng.uniform(0.35, 0.6), floor_h * rng.uniform(0.4, 0.6)
    if cam.scale((z0 + z1) / 2) * win_h < 2:
        return
    ys = np.arange(floor_h + 0.9, height - 1.0 - win_h, floor_h)
    zs = np.arange(z0 + spacing / 2, z1 - spacing / 2, spacing)
    if len(ys) and len(zs):
        y, z = (a.ravel() for a in np.meshgrid(ys, zs))
        corners = np.stack(
            [
                np.stack([np.full_like(y, x), y, z], 1),
                np.stack([np.full_like(y, x), y, z + win_w], 1),
                np.stack([np.full_like(y, x), y + win_h, z + win_w], 1),
                np.stack([np.full_like(y, x), y + win_h, z], 1),
            ],
            1,
        )
        quads = cam.project(corners).reshape(-1, 4, 2)
        group = rng.integers(3, size=len(quads))  # three window shades per facade
        for g in range(3):
            c.polygons(
                list(quads[group == g]),
                ID["building"],
                _jitter(rng, window, 0.25),
                (0.02, 0.1, 0.1),
            )
    door_z = rng.uniform(z0 + 0.5, max(z0 + 0.6, z1 - 2.0))
    c.polygon(
        _wall_quad(cam, x, door_z, door_z + 1.2, 0, 2.3),
        ID["building"],
        _jitter(rng, (70, 50, 40), 0.3),
    )


def _tree_line(c, cam, rng, x, z0, z1, height):
    """Hedges and tree crowns seen side-on: a bumpy green band."""
    zs = np.linspace(z0, z1, 12)
    top = [(x, height * rng.uniform(0.6, 1.1), z) for z in zs[::-1]]
    pts = np.concatenate([cam.project([(x, 0, z0), (x, 0, z1)]), cam.project(top)])
    c.polygon(pts, ID["vegetation"], _jitter(rng, VEGETATION, 0.25), (0.12, 0.25, 0.15))


def _street_side(c, cam, rng, side, edge, sidewalk, terrain, z_far):
    """Sidewalk, optional grass strip and the row of buildings/trees/walls on one side."""
    s = -1 if side == "left" else 1
    curb, outer = s * edge, s * (edge + sidewalk)
    back = s * (edge + sidewalk + terrain)
    c.polygon(
        _ground_quad(cam, curb, outer, 0.3, z_far),
        ID["sidewalk"],
        _jitter(rng, (165, 160, 150)),
        (0.06, 0.08, 0.06),
    )
    c.polygon(
        _wall_quad(cam, curb, 0.3, z_far, 0.0, 0.15), ID["sidewalk"], _jitter(rng, (190, 188, 180))
    )
    if terrain > 0:
        c.polygon(
            _ground_quad(cam, outer, back, 0.3, z_far),
            ID["terrain"],
            _jitter(rng, (120, 140, 70), 0.2),
            (0.15, 0.2, 0.1),
        )
    z = 0.3
    while z < z_far:
        length = rng.uniform(8, 25)
        kind = rng.choice(["building", "trees", "wall", "fence"], p=[0.65, 0.15, 0.1, 0.1])
        z1 = min(z + length, z_far)
        if kind == "building":
            _facade(c, cam, rng, back, z, z1, rng.uniform(7, 24))
        else:
            behind = back + s * rng.uniform(3, 10)
            if kind == "trees" or rng.random() < 0.5:
                _tree_line(c, cam, rng, behind, z, z1, rng.uniform(5, 12))
            else:
                _facade(c, cam, rng, behind, z, z1, rng.uniform(8, 20))
            if kind == "wall":
                c.polygon(
                    _wall_quad(cam, back, z, z1, 0, rng.uniform(1.2, 2.5)),
                    ID["wall"],
                    _jitter(rng, (150, 148, 140)),
                    (0.05, 0.12, 0.1),
                )
            elif kind == "fence":
                period = max(2.0, cam.scale(z + length / 2) * 0.15)
                c.polygon(
                    _wall_quad(cam, back, z, z1, 0, rng.uniform(1.0, 2.0)),
                    ID["fence"],
                    _jitter(rng, (140, 115, 90)),
                    (0.05, 0.05, 0.05),
                    stripes=period,
                )
        z = z1


def _road(c, cam, rng, left, right, z_far):
    asphalt = _jitter(rng, (85, 85, 90), 0.2)
    c.polygon(_ground_quad(cam, -left, right, 0.3, z_far), ID["road"], asphalt, (0.07, 0.08, 0.1))
    for _ in range(rng.integers(0, 4)):  # repaired patches: still road
        x, z = rng.uniform(-left, right - 2), rng.uniform(4, 40)
        c.polygon(
            _ground_quad(cam, x, x + rng.uniform(1, 3), z, z + rng.uniform(1, 6)),
            ID["road"],
            asphalt * rng.uniform(0.8, 1.15),
            (0.07, 0.08, 0.1),
        )
    paint = _jitter(rng, (215, 215, 205), 0.05)
    lanes = np.arange(-left + 3.2, right - 1.5, 3.2)
    dash, gap = rng.uniform(2, 4), rng.uniform(4, 8)
    for x in lanes:
        for z in np.arange(rng.uniform(1, 6), z_far / 2, dash + gap):
            c.polygon(_ground_quad(cam, x - 0.07, x + 0.07, z, z + dash), ID["road"], paint)
    for x in (-left + 0.3, right - 0.3):  # solid edge lines
        c.polygon(_ground_quad(cam, x - 0.06, x + 0.06, 0.3, z_far / 2), ID["road"], paint)
    if rng.random() < 0.3:  # zebra crossing
        z = rng.uniform(8, 25)
        for x in np.arange(-left + 0.5, right - 0.5, 1.0):
            c.polygon(_ground_quad(cam, x, x + 0.5, z, z + 3), ID["road"], paint)


def _car(c, cam, rng, xc, z, kind="car"):
    """A box-shaped vehicle whose rear is at depth z, centred at X = xc: shadow, side, rear."""
    width, length, body, top, label = {
        "car": (1.8, 4.3, 1.0, 1.45, ID["car"]),
        "truck": (2.4, 7.0, 2.2, 3.2, ID["truck"]),
        "bus": (2.5, 11.0, 2.8, 3.1, ID["bus"]),
    }[kind]
    colour = _jitter(rng, CAR_COLOURS[rng.integers(len(CAR_COLOURS))], 0.1)
    glass = _jitter(rng, (40, 50, 60), 0.3)
    left, right = xc - width / 2, xc + width / 2
    c.polygon(
        _ground_quad(cam, left - 0.2, right + 0.2, z - 0.3, z + length),
        ID["road"],
        (35, 35, 38),
        (0.05, 0.05, 0.0),
    )
    side = left if left > 0 else (right if right < 0 else None)
    if side is not None:  # the side facing the camera
        c.polygon(
            _wall_quad(cam, side, z, z + length, 0.25, body),
            label,
            colour * 0.85,
            (0.02, 0.05, 0.1),
        )
        c.polygon(
            _wall_quad(cam, side, z + 0.3 * (kind == "car"), z + length, body, top),
            label,
            glass if kind == "car" else colour * 0.8,
            (0.02, 0.08, 0.1),
        )
        if kind == "bus":
            for zz in np.arange(z + 1, z + length - 1, 1.6):
                c.polygon(_wall_quad(cam, side, zz, zz + 1.2, 1.3, 2.5), label, glass)
        for wz in (z + 0.8, z + length - 0.9):
            ring = [
                (side, 0.35 + 0.35 * np.sin(a), wz + 0.35 * np.cos(a))
                for a in np.linspace(0, 2 * np.pi, 16, endpoint=False)
            ]
            c.polygon(cam.project(ring), label, (20, 20, 22), (0.03, 0.03, 0))
    c.polygon(
        cam.project([(left, 0.25, z), (right, 0.25, z), (right, body, z), (left, body, z)]),
        label,
        colour,
        (0.02, 0.05, 0.1),
    )
    inset = 0.2 if kind == "car" else 0.0
    c.polygon(
        cam.project(
            [
                (left + inset, body, z + 0.4 * (kind == "car")),
                (right - inset, body, z + 0.4 * (kind == "car")),
                (right - inset, top, z + 0.8 * (kind == "car")),
                (left + inset, top, z + 0.8 * (kind == "car")),
            ]
        ),
        label,
        colour * 0.9,
        (0.02, 0.05, 0.1),
    )
    if kind == "car":  # rear window, lights, plate, wheels under the bumper
        c.polygon(
            cam.project(
                [
                    (left + 0.35, body + 0.05, z + 0.45),
                    (right - 0.35, body + 0.05, z + 0.45),
                    (right - 0.4, top - 0.08, z + 0.75),
                    (left + 0.4, top - 0.08, z + 0.75),
                ]
            ),
            label,
            glass,
        )
        for x in (left + 0.08, right - 0.33):
            c.polygon(
                cam.project([(x, 0.7, z), (x + 0.25, 0.7, z), (x + 0.25, 0.85, z), (x, 0.85, z)]),
                label,
                (170, 20, 20),
            )
        c.polygon(
            cam.project(
                [
                    (xc - 0.25, 0.4, z),
                    (xc + 0.25, 0.4, z),
                    (xc + 0.25, 0.52, z),
                    (xc - 0.25, 0.52, z),
                ]
            ),
            label,
            (220, 220, 210),
        )
    for x in (left + 0.1, right - 0.35):
        c.polygon(
            cam.project(
                [
                    (x, 0.0, z + 0.5),
                    (x + 0.25, 0.0, z + 0.5),
                    (x + 0.25, 0.3, z + 0.5),
                    (x, 0.3, z + 0.5),
                ]
            ),
            label,
            (20, 20, 22),
        )


def _person(c, cam, rng, x, z, label_id=None, y=0.0, sitting=False):
    """A standing (or cycling) person as head, torso, arms and legs at ground position (x, z)."""
    label_id = ID["person"] if label_id is None else label_id
    height = rng.uniform(1.55, 1.95)
    skin = _jitter(rng, SKIN_COLOURS[rng.integers(len(SKIN_COLOURS))], 0.08)
    shirt = _jitter(rng, CLOTH_COLOURS[rng.integers(len(CLOTH_COLOURS))], 0.15)
    trousers = _jitter(rng, CLOTH_COLOURS[rng.integers(len(CLOTH_COLOURS))], 0.15)
    hip = y + 0.5 * height
    stride = 0.0 if sitting else rng.uniform(-0.2, 0.2)
    for dx, foot in ((-0.09, stride), (0.09, -stride)):
        c.polygon(
            cam.project(
                [
                    (x + dx - 0.07, hip, z),
                    (x + dx + 0.07, hip, z),
                    (x + dx + 0.06, y, z + foot),
                    (x + dx - 0.06, y, z + foot),
                ]
            ),
            label_id,
            trousers,
            (0.03, 0.06, 0.05),
        )
    shoulder = hip + 0.33 * height
    c.polygon(
        cam.project(
            [(x - 0.2, hip, z), (x + 0.2, hip, z), (x + 0.22, shoulder, z), (x - 0.22, shoulder, z)]
        ),
        label_id,
        shirt,
        (0.03, 0.08, 0.05),
    )
    for dx in (-0.27, 0.22):
        c.polygon(
            cam.project(
                [
                    (x + dx, shoulder, z),
                    (x + dx + 0.06, shoulder, z),
                    (x + dx + 0.05, hip - 0.05, z),
                    (x + dx - 0.01, hip - 0.05, z),
                ]
            ),
            label_id,
            shirt * 0.9,
        )
    centre = cam.project([(x, shoulder + 0.13, z)])[0]
    radius = cam.scale(z) * 0.11
    c.ellipse(centre, (radius * 0.85, radius), label_id, skin, (0.02, 0.04, 0.02))
    c.ellipse(
        centre - [0, radius * 0.45],
        (radius * 0.9, radius * 0.6),
        label_id,
        _jitter(rng, (40, 30, 20), 0.4),
    )


def _cyclist(c, cam, rng, x, z):
    """A bicycle (label 'bicycle') ridden along the street by a 'rider', seen from behind-side."""
    frame = _jitter(rng, CAR_COLOURS[rng.integers(len(CAR_COLOURS))])
    thickness = max(1.0, cam.scale(z) * 0.04)
    for wz in (z, z + 1.1):
        ring = [
            (x, 0.35 + 0.35 * np.sin(a), wz + 0.35 * np.cos(a))
            for a in np.linspace(0, 2 * np.pi, 20, endpoint=False)
        ]
        c.polyline(cam.project(ring), thickness, ID["bicycle"], (25, 25, 25), closed=True)
    c.polyline(
        cam.project(
            [
                (x, 0.35, z),
                (x, 0.85, z + 0.5),
                (x, 0.35, z + 1.1),
                (x, 0.35, z + 0.55),
                (x, 0.85, z + 0.5),
            ]
        ),
        thickness,
        ID["bicycle"],
        frame,
    )
    _person(c, cam, rng, x, z + 0.45, ID["rider"], y=0.35, sitting=True)


def _pole(c, cam, rng, x, z):
    """A pole, sometimes carrying a traffic sign or a traffic light on its top."""
    height = rng.uniform(3.5, 8.0)
    grey = _jitter(rng, (120, 122, 125), 0.2)
    c.polygon(
        cam.project(
            [(x - 0.08, 0, z), (x + 0.08, 0, z), (x + 0.08, height, z), (x - 0.08, height, z)]
        ),
        ID["pole"],
        grey,
        (0.02, 0.05, 0.05),
    )
    what = rng.choice(["sign", "light", "none"], p=[0.45, 0.25, 0.3])
    if what == "sign":
        y = min(height, rng.uniform(2.2, 3.2))
        centre = cam.project([(x, y, z)])[0]
        r = cam.scale(z) * rng.uniform(0.3, 0.45)
        shape = rng.integers(3)
        colour = [(200, 30, 30), (30, 70, 170), (230, 200, 40)][rng.integers(3)]
        if shape == 0:
            c.ellipse(centre, (r, r), ID["traffic sign"], colour, (0.02, 0.03, 0))
            c.ellipse(centre, (0.7 * r, 0.7 * r), ID["traffic sign"], (235, 235, 230))
        elif shape == 1:
            c.polygon(
                [centre + [0, -r], centre + [r, 0.8 * r], centre + [-r, 0.8 * r]],
                ID["traffic sign"],
                colour,
                (0.02, 0.03, 0),
            )
        else:
            c.polygon(
                [centre + [-r, -r], centre + [r, -r], centre + [r, r], centre + [-r, r]],
                ID["traffic sign"],
                colour,
                (0.02, 0.03, 0),
            )
    elif what == "light":
        y = min(height, rng.uniform(2.5, 4.0))
        top = cam.project([(x - 0.18, y + 0.9, z)])[0]
        bottom = cam.project([(x + 0.18, y, z)])[0]
        c.polygon(
            [top, (bottom[0], top[1]), bottom, (top[0], bottom[1])],
            ID["traffic light"],
            (30, 32, 30),
            (0.02, 0.05, 0),
        )
        lit = rng.integers(3)
        for i, colour in enumerate([(230, 40, 30), (240, 180, 20), (40, 220, 90)]):
            centre = cam.project([(x, y + 0.75 - 0.3 * i, z)])[0]
            r = cam.scale(z) * 0.1
            c.ellipse(
                centre,
                (r, r),
                ID["traffic light"],
                colour if i == lit else np.asarray(colour) * 0.25,
            )


def _tree(c, cam, rng, x, z):
    """A street tree: trunk and a crown of overlapping blobs (all 'vegetation', as Cityscapes)."""
    trunk = rng.uniform(2.0, 3.5)
    c.polygon(
        cam.project(
            [
                (x - 0.12, 0, z),
                (x + 0.12, 0, z),
                (x + 0.1, trunk + 0.5, z),
                (x - 0.1, trunk + 0.5, z),
            ]
        ),
        ID["vegetation"],
        _jitter(rng, (80, 65, 50), 0.2),
        (0.05, 0.1, 0.05),
    )
    green = _jitter(rng, VEGETATION, 0.3)
    for _ in range(rng.integers(3, 7)):
        centre = cam.project([(x + rng.uniform(-1.2, 1.2), trunk + rng.uniform(0.8, 2.8), z)])[0]
        r = cam.scale(z) * rng.uniform(0.9, 1.8)
        c.ellipse(
            centre,
            (r, r * rng.uniform(0.7, 1.0)),
            ID["vegetation"],
            green * rng.uniform(0.8, 1.2),
            (0.15, 0.25, 0.1),
        )


def _clutter(c, cam, rng, x, z, label_id):
    """Void-class things: bins and boxes ('static') or unlabelled odds and ends."""
    w, h = rng.uniform(0.4, 1.0), rng.uniform(0.6, 1.2)
    c.polygon(
        cam.project([(x, 0, z), (x + w, 0, z), (x + w, h, z), (x, h, z)]),
        label_id,
        _jitter(rng, CAR_COLOURS[rng.integers(len(CAR_COLOURS))], 0.3),
        (0.05, 0.1, 0.1),
    )


def _ego_vehicle(c, rng):
    """The bonnet at the bottom of the frame, label 'ego vehicle' as in Cityscapes."""
    xs = np.linspace(0, c.w, 24)
    depth = c.h * rng.uniform(0.06, 0.12)
    ys = c.h - depth * (1 - 0.5 * ((xs - c.w / 2) / (c.w / 2)) ** 2)
    pts = np.concatenate([np.stack([xs, ys], 1), [[c.w, c.h], [0, c.h]]])
    c.polygon(pts, ID["ego vehicle"], _jitter(rng, (40, 45, 55), 0.4), (0.02, 0.15, 0.1))


def render_scene(size: tuple[int, int], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One street scene -> (uint8 [H, W, 3] RGB image, uint8 [H, W] Cityscapes label ids)."""
    h, w = size
    c = _Canvas(h, w, rng)
    cam = _Camera(
        focal=w * rng.uniform(0.7, 1.05),
        cx=w * rng.uniform(0.42, 0.58),
        horizon=h * rng.uniform(0.36, 0.5),
        height=rng.uniform(1.2, 1.6),
    )
    z_far = rng.uniform(150, 300)
    left, right = rng.uniform(3, 8), rng.uniform(3, 8)
    sidewalks = rng.uniform(1.5, 4.5, 2)
    terrain = np.where(rng.random(2) < 0.35, rng.uniform(1, 4, 2), 0.0)

    _sky(c, cam, rng)
    for x0, x1, kind in ((-80, 80, rng.choice(["building", "vegetation"])),):  # end of the street
        heights = rng.uniform(6, 25, 8)
        for i, height in enumerate(heights):
            xa, xb = x0 + (x1 - x0) * i / 8, x0 + (x1 - x0) * (i + 1) / 8
            c.polygon(
                cam.project(
                    [(xa, 0, z_far), (xb, 0, z_far), (xb, height, z_far), (xa, height, z_far)]
                ),
                ID[kind],
                _jitter(rng, FACADE_COLOURS[i % 8] if kind == "building" else VEGETATION),
            )
    _road(c, cam, rng, left, right, z_far)
    _street_side(c, cam, rng, "left", left, sidewalks[0], terrain[0], z_far)
    _street_side(c, cam, rng, "right", right, sidewalks[1], terrain[1], z_far)

    things = []  # (depth, draw) drawn far to near
    for s, edge, walk in ((-1, left, sidewalks[0]), (1, right, sidewalks[1])):
        for z in np.cumsum(rng.uniform(12, 35, 6)):
            things.append((z, lambda z=z, x=s * (edge + 0.4): _pole(c, cam, rng, x, z)))
        for z in np.cumsum(rng.uniform(8, 30, 5)):
            if rng.random() < 0.6:
                x = s * (edge + walk * rng.uniform(0.55, 0.8))
                things.append((z, lambda z=z, x=x: _tree(c, cam, rng, x, z)))
        for _ in range(rng.integers(0, 7)):
            z, x = rng.uniform(4, 60), s * (edge + rng.uniform(0.4, walk - 0.3))
            things.append((z, lambda z=z, x=x: _person(c, cam, rng, x, z)))
        for _ in range(rng.integers(0, 3)):
            z, x = rng.uniform(4, 40), s * (edge + rng.uniform(0.3, walk - 0.5))
            label_id = ID["static"] if rng.random() < 0.7 else ID["unlabeled"]
            things.append((z, lambda z=z, x=x, i=label_id: _clutter(c, cam, rng, x, z, i)))
        z = rng.uniform(5, 12)  # parked cars along the curb
        while z < 70:
            if rng.random() < 0.45:
                things.append((z, lambda z=z, x=s * (edge - 1.1): _car(c, cam, rng, x, z)))
            z += rng.uniform(5.5, 12)
    lanes = np.arange(-left + 3.2 + 1.6, right - 2.2, 3.2)
    for _ in range(rng.integers(0, 5)):
        z, x = rng.uniform(7, 90), rng.choice(lanes) + rng.uniform(-0.4, 0.4) if len(lanes) else 0
        kind = rng.choice(["car", "truck", "bus"], p=[0.8, 0.1, 0.1])
        things.append((z, lambda z=z, x=x, k=kind: _car(c, cam, rng, x, z, k)))
    for _ in range(rng.integers(0, 3)):
        z, x = rng.uniform(5, 40), rng.choice([-left + 0.8, right - 0.8])
        things.append((z, lambda z=z, x=x: _cyclist(c, cam, rng, x, z)))
    for _, draw in sorted(things, key=lambda t: -t[0]):
        draw()
    if rng.random() < 0.8:
        _ego_vehicle(c, rng)

    # The camera: exposure and colour cast, optics blur, sensor noise.
    image = c.image * rng.uniform(0.75, 1.15) * rng.uniform(0.93, 1.07, 3)
    image = cv2.GaussianBlur(image, (0, 0), max(0.5, w / 2000))
    image += rng.normal(0, rng.uniform(1.5, 5.0), image.shape).astype(np.float32)
    return np.clip(image, 0, 255).astype(np.uint8), c.label
