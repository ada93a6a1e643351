"""Geometry of the renderer and the compositor: exact depth, placement on the ground, occlusion."""

from __future__ import annotations

import numpy as np
import pytest

from evalib.synth import compose
from evalib.synth import scene as sc
from evalib.synth import textures as tx
from evalib.synth.backgrounds import background_scene


def flat_material(value=0.5):
    return sc.Material(tx.Texture.from_array(np.full((8, 8, 3), value, np.float32)), 1.0)


def test_ground_depth_is_exact_ray_plane_distance():
    size, h = 64, 1.5
    cam = sc.Camera(height=h, pitch=0, roll=0, yaw=0, hfov=70)
    rgb, depth, kind = sc.render(sc.Scene("outdoor", cam, ground=flat_material()), size)
    f = cam.focal(size)
    rows = np.arange(size // 2 + 1, size)
    expected = h * f / (rows + 0.5 - size / 2)  # camera-axis distance to where the row's ray meets y = 0
    np.testing.assert_allclose(depth[rows, size // 3], expected, rtol=1e-5)
    assert (kind[rows] == sc.GROUND).all()
    assert (depth[: size // 2] == sc.SKY_DEPTH).all() and (kind[: size // 2] == sc.SKY).all()


def test_far_wall_depth_is_constant_along_the_optical_axis():
    cam = sc.Camera(height=1.5, pitch=0, roll=0, yaw=0, hfov=60)
    mats = [flat_material()] * 6
    room = (np.array([-5.0, 0.0, -1.0]), np.array([5.0, 3.0, 7.0]), mats)
    _, depth, kind = sc.render(sc.Scene("indoor", cam, room=room), 32)
    # the far wall z = 7 fills the centre; camera-axis depth is 7 at every pixel that sees it
    np.testing.assert_allclose(depth[12:20, 12:20], 7.0, rtol=1e-6)
    assert (kind[-1] == sc.GROUND).all()  # the floor is at the bottom


def test_box_occludes_the_wall_behind_it():
    cam = sc.Camera(height=1.0, pitch=0, roll=0, yaw=0, hfov=60)
    s = sc.Scene("indoor", cam, room=(np.array([-5.0, 0, -1]), np.array([5.0, 3, 9]), [flat_material()] * 6))
    s.boxes.append((np.array([-0.5, 0.0, 3.0]), np.array([0.5, 2.0, 4.0]), flat_material(0.9)))
    _, depth, _ = sc.render(s, 33)
    assert depth[16, 16] == pytest.approx(3.0, rel=1e-6)  # the box's front face
    assert depth[16, 2] == pytest.approx(9.0, rel=1e-6)  # the wall beside it


def test_backgrounds_are_deterministic_and_varied():
    a, b = sc.render(background_scene(3), 32), sc.render(background_scene(3), 32)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert background_scene(4).kind == "indoor" and background_scene(5).kind == "outdoor"
    c = sc.render(background_scene(5, seed=1), 32)
    assert not np.array_equal(a[0], c[0])


def square_foreground(height_m=1.0, side=40):
    rgba = np.ones((side, side, 4), np.float32)
    rgba[..., :3] = [1.0, 0.0, 0.0]
    return compose.Foreground("square", height_m, rgba)


def open_ground(size=96, pitch=-10.0):
    cam = sc.Camera(height=1.6, pitch=pitch, roll=0, yaw=0, hfov=70)
    rgb, depth, kind = sc.render(sc.Scene("outdoor", cam, ground=flat_material(0.3)), size)
    return rgb, depth, kind, cam


def test_foreground_stands_on_the_ground_with_the_contact_depth():
    rgb, depth, kind, cam = open_ground()
    out_rgb, mask, out_depth, p = compose.composite(rgb, depth, kind, cam, square_foreground(), False, np.random.default_rng(0))
    assert p.depth == pytest.approx(depth[p.row, p.col])  # standing where the ground is
    assert (out_depth[mask == 1] == np.float32(p.depth)).all()
    rows = np.flatnonzero(mask.any(axis=1))
    assert abs(rows.max() - p.row) <= 1  # the bottom of the object sits on its contact row
    # apparent height follows the pinhole model: h_px = f * H / z (pitch tilts it only a little)
    assert len(rows) == pytest.approx(cam.focal(96) * p.height_m / p.depth, rel=0.12)
    assert (out_depth[mask == 0] == depth[mask == 0]).all()


def test_mask_is_the_visible_alpha_and_occluders_hide_it():
    rgb, depth, kind, cam = open_ground()
    _, mask_free, _, p = compose.composite(rgb, depth, kind, cam, square_foreground(), False, np.random.default_rng(1))
    layer = compose._paste(square_foreground().rgba, 96, np.array([p.col + 0.5, p.row + 0.5]), np.array([0.0, -p.height_px]))
    cols = np.flatnonzero(mask_free.any(axis=0))
    cut = (cols.min() + cols.max()) // 2
    wall = depth.copy()
    wall[:, :cut] = 0.3  # an occluder nearer than the object covers its left half
    out_rgb, mask, out_depth = compose.occlude(rgb, wall, layer, p.depth)
    np.testing.assert_array_equal(mask, (layer[..., 3] >= 0.5) & (np.arange(96) >= cut)[None, :])
    assert mask[:, cut:].sum() > 0
    np.testing.assert_array_equal(out_rgb[:, :cut], rgb[:, :cut])  # hidden pixels keep the background colour
    assert (out_depth[:, :cut] == np.float32(0.3)).all()
    red = (out_rgb[..., 0] > 200) & (out_rgb[..., 1] < 40)
    assert (red == (mask == 1)).mean() > 0.99  # the mask is exactly where the opaque object shows


def test_index_layout_matches_the_original():
    assert compose.split_index(0, 100) == (0, 0, 0, 0)
    assert compose.split_index(399_999, 100) == (99, 99, 1, 19)
    assert compose.split_index(4000 * 7 + 40 * 3 + 20 + 5, 100) == (7, 3, 1, 5)
    with pytest.raises(IndexError, match="out of range"):
        compose.split_index(400_000, 100)


def test_texture_mipmaps_remove_moire():
    # a 1-texel checkerboard seen from far away must average to grey, not alias into stripes
    checker = (np.indices((64, 64)).sum(0) % 2).astype(np.float32)
    tex = tx.Texture.from_array(np.repeat(checker[..., None], 3, axis=2))
    u = np.arange(500, dtype=np.float32) + 0.5  # texel centres along a row
    v = np.full(500, 0.5, np.float32)
    far = tex.sample(u, v, np.full(500, 40.0))
    near = tex.sample(u, v, np.full(500, 1.0))
    assert far.std() < 0.02 and abs(far.mean() - 0.5) < 0.02
    np.testing.assert_allclose(near[:, 0], np.arange(500) % 2, atol=1e-4)  # close up, every texel shows
