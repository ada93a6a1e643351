"""Random indoor rooms and outdoor views: the 100 backgrounds of the built-in dataset.

Background `b` is drawn from a generator seeded by (seed, b) alone, so it is the same in every
build, whatever the worker count or the order in which backgrounds are rendered.
"""

from __future__ import annotations

import numpy as np

from functools import lru_cache

from . import photos
from . import scene as sc
from . import textures as tx


def _rng(seed: int, bg: int) -> np.random.Generator:
    return np.random.default_rng([seed, 1, bg])


@lru_cache(maxsize=None)
def _frame_texture(k: int) -> tx.Texture:
    """Framed picture k: one of the training photographs that `synth.photos.frame_textures` sets aside."""
    return tx.Texture.from_array(tx.photo_texture(photos.frame_textures()[k].image), wrap=False)


def _floor_material(rng) -> sc.Material:
    choice = rng.integers(4)
    if choice == 0:
        return sc.Material(tx.Texture.from_array(tx.wood(rng, tx.random_tint(rng, 0.35, 0.7) * [1.2, 0.9, 0.6])), rng.uniform(1.0, 2.0))
    if choice == 1:
        return sc.Material(tx.Texture.from_array(tx.tiles(rng, tx.random_tint(rng, 0.5, 0.95))), rng.uniform(1.0, 2.5))
    if choice == 2:
        return sc.Material(tx.Texture.from_array(tx.gray_texture("gravel", tx.random_tint(rng, 0.4, 0.7))), rng.uniform(0.8, 1.5))
    return sc.Material(tx.Texture.from_array(tx.plaster(rng, tx.random_tint(rng, 0.3, 0.6))), 2.0)  # carpet


def _wall_material(rng) -> sc.Material:
    choice = rng.integers(4)
    if choice == 0:
        return sc.Material(tx.Texture.from_array(tx.gray_texture("brick", tx.random_tint(rng, 0.45, 0.8) * [1.15, 0.85, 0.75])), rng.uniform(1.5, 2.5))
    if choice == 1:
        return sc.Material(tx.Texture.from_array(tx.stripes(rng, tx.random_tint(rng, 0.6, 0.95))), rng.uniform(1.0, 2.0))
    return sc.Material(tx.Texture.from_array(tx.plaster(rng, tx.random_tint(rng, 0.6, 0.95))), 3.0)


def indoor(rng: np.random.Generator) -> sc.Scene:
    """A box-shaped room with a floor, four walls, a ceiling, furniture boxes and framed photographs."""
    cam = sc.Camera(height=rng.uniform(1.0, 1.8), pitch=rng.uniform(-22, -3), roll=rng.uniform(-4, 4),
                    yaw=rng.uniform(-25, 25), hfov=rng.uniform(60, 90))
    width, depth, height = rng.uniform(4, 10), rng.uniform(6, 14), rng.uniform(2.5, 3.5)
    x0 = -rng.uniform(0.3, 0.7) * width
    lo = np.array([x0, 0.0, -rng.uniform(0.3, 1.0)])
    hi = np.array([x0 + width, height, lo[2] + depth])
    wall = _wall_material(rng)
    walls = [sc.Material(wall.texture, wall.tile_m, shade) for shade in rng.uniform(0.75, 1.0, size=4)]
    floor = _floor_material(rng)
    ceiling = sc.Material(tx.Texture.from_array(tx.plaster(rng, tx.random_tint(rng, 0.8, 0.95))), 3.0, 0.7)
    mats = [walls[0], walls[1], floor, ceiling, walls[2], walls[3]]
    s = sc.Scene("indoor", cam, room=(lo, hi, mats))
    # framed photographs on the far wall (+z, face 5) and the side walls (faces 0 and 1)
    for _ in range(rng.integers(1, 4)):
        face = int(rng.choice([0, 1, 5, 5]))
        along = (hi[0] - lo[0]) if face == 5 else (hi[2] - lo[2])
        w = rng.uniform(0.6, 1.6)
        u0 = rng.uniform(0.1, max(0.2, along - w - 0.1))
        v0 = -rng.uniform(1.4, min(2.2, height - 0.2)) - 0.0
        h = w * rng.uniform(0.6, 1.0)
        photo = _frame_texture(int(rng.integers(len(photos.frame_textures()))))
        s.decals.append(sc.Decal(face, u0, u0 + w, v0, v0 + h, photo))
    # furniture: boxes standing on the floor along the walls and in the room
    for _ in range(rng.integers(1, 5)):
        bw, bd, bh = rng.uniform(0.4, 2.0), rng.uniform(0.4, 1.2), rng.uniform(0.4, 1.6)
        bx = rng.uniform(lo[0], hi[0] - bw)
        bz = rng.uniform(lo[2] + 2.0, hi[2] - bd)
        mat = _wall_material(rng) if rng.random() < 0.3 else sc.Material(
            tx.Texture.from_array(tx.wood(rng, tx.random_tint(rng, 0.3, 0.7) * [1.2, 0.9, 0.6])), rng.uniform(0.8, 1.5), rng.uniform(0.8, 1.0))
        s.boxes.append((np.array([bx, 0.0, bz]), np.array([bx + bw, bh, bz + bd]), mat))
    return s


def outdoor(rng: np.random.Generator) -> sc.Scene:
    """Open ground under a sky, with hills on the horizon, a few buildings or rocks, and distance fog."""
    cam = sc.Camera(height=rng.uniform(1.2, 2.2), pitch=rng.uniform(-14, 0), roll=rng.uniform(-5, 5),
                    yaw=rng.uniform(-180, 180), hfov=rng.uniform(55, 85))
    ground_kind = rng.choice(["grass", "gravel", "moon"])
    tint = {"grass": [0.45, 0.65, 0.3], "gravel": [0.6, 0.55, 0.5], "moon": [0.7, 0.6, 0.45]}[ground_kind]
    ground = sc.Material(tx.Texture.from_array(tx.gray_texture(ground_kind, np.array(tint, np.float32) * rng.uniform(0.8, 1.2))),
                         rng.uniform(1.0, 3.0))
    sky = np.array([0.75, 0.82, 0.92], np.float32) * rng.uniform(0.85, 1.05)
    sky_top = np.array([0.3, 0.5, 0.85], np.float32) * rng.uniform(0.7, 1.1)
    sun_el, sun_az = np.radians(rng.uniform(20, 70)), rng.uniform(0, 2 * np.pi)
    sun = np.array([np.cos(sun_el) * np.sin(sun_az), np.sin(sun_el), np.cos(sun_el) * np.cos(sun_az)])
    s = sc.Scene("outdoor", cam, ground=ground, sky=sky, sky_top=sky_top,
                 clouds=tx.Texture.from_array(np.repeat(tx.fractal_noise(rng, 256)[..., None], 3, axis=2)),
                 fog_m=rng.uniform(80, 300), fog_colour=sky * 0.95, sun=sun)
    yaw = np.radians(cam.yaw)
    forward = np.array([np.sin(yaw), 0.0, np.cos(yaw)])
    right = np.array([np.cos(yaw), 0.0, -np.sin(yaw)])
    for _ in range(rng.integers(2, 6)):
        radius = rng.uniform(40, 150)
        dist = rng.uniform(80, 250) + radius
        centre = forward * dist + right * rng.uniform(-1.2, 1.2) * dist - np.array([0, radius - rng.uniform(8, 40), 0])
        hill = sc.Material(tx.Texture.from_array(tx.gray_texture(str(rng.choice(["grass", "moon"])),
                                                               np.array([0.35, 0.5, 0.3], np.float32) * rng.uniform(0.7, 1.3))), 8.0)
        s.hills.append((centre, radius, hill))
    for _ in range(rng.integers(0, 4)):
        bw, bd, bh = rng.uniform(2, 8), rng.uniform(2, 8), rng.uniform(2, 10)
        dist = rng.uniform(12, 60)
        c = forward * dist + right * rng.uniform(-0.8, 0.8) * dist
        mat = sc.Material(tx.Texture.from_array(tx.gray_texture("brick", tx.random_tint(rng, 0.5, 0.8))), rng.uniform(2.0, 4.0))
        s.boxes.append((np.array([c[0] - bw / 2, 0.0, c[2] - bd / 2]), np.array([c[0] + bw / 2, bh, c[2] + bd / 2]), mat))
    return s


def background_scene(bg: int, seed: int = 0) -> sc.Scene:
    """The scene of background `bg`: even ids are rooms, odd ids outdoor views."""
    rng = _rng(seed, bg)
    return indoor(rng) if bg % 2 == 0 else outdoor(rng)


def render_background(bg: int, size: int, seed: int = 0):
    """RGB uint8 (size, size, 3), depth float32 metres, surface kind int8, and the scene."""
    s = background_scene(bg, seed)
    rgb, depth, kind = sc.render(s, size)
    return rgb, depth, kind, s
