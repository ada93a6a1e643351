"""Procedural 2.5D background scenes, ray-cast through a pinhole camera with exact depth.

World axes: x right, y up, z forward; the ground is the plane y = 0. A scene is a list of surfaces
(the ground plane, the inside of a room, boxes, hill spheres) and a sky. Each pixel's ray is
intersected with every surface analytically (ray-plane, ray-box slabs, ray-sphere); the nearest hit
gives the colour and the depth. Depth is the distance along the camera's optical axis (the camera
z coordinate), in metres; rays that hit nothing (sky) get `SKY_DEPTH`.

Colour is rendered with `SUPERSAMPLE` x `SUPERSAMPLE` rays per pixel and mip-mapped textures, then
averaged; depth and surface ids come from the ray through each pixel's centre, so they are exact.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from . import textures as tx

SKY_DEPTH = 1000.0  # metres; far beyond the encoding's range, so the sky encodes as "farthest"
SUPERSAMPLE = 3  # odd, so the middle sub-ray is the pixel-centre ray
GROUND, OTHER, SKY = 1, 0, -1  # surface kinds, for placing foregrounds on the ground


@dataclass
class Camera:
    """A pinhole camera at (0, height, 0) with yaw, pitch and roll in degrees."""

    height: float
    pitch: float
    roll: float
    yaw: float
    hfov: float

    def rotation(self) -> np.ndarray:
        """Camera-to-world rotation (3, 3): yaw about y, then pitch about x, then roll about z."""
        p, r, y = np.radians([self.pitch, self.roll, self.yaw])
        rx = np.array([[1, 0, 0], [0, np.cos(p), np.sin(p)], [0, -np.sin(p), np.cos(p)]])
        rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
        ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
        return ry @ rx @ rz

    def focal(self, size: int) -> float:
        return (size / 2) / np.tan(np.radians(self.hfov) / 2)

    @property
    def centre(self) -> np.ndarray:
        return np.array([0.0, self.height, 0.0])

    def rays(self, size: int, supersample: int = 1) -> np.ndarray:
        """World-space ray directions (size*ss, size*ss, 3) whose camera-z component is 1."""
        n = size * supersample
        c = (np.arange(n) + 0.5) / supersample  # sub-pixel centres in pixel units
        f = self.focal(size)
        x = (c[None, :] - size / 2) / f
        y = -(c[:, None] - size / 2) / f
        d = np.stack(np.broadcast_arrays(x, y, np.ones_like(x)), axis=-1)
        return d @ self.rotation().T

    def project(self, points: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
        """World points (N, 3) -> continuous pixel coordinates (N, 2) (x, y; pixel centres at +0.5) and camera z."""
        cam = (points - self.centre) @ self.rotation()
        f = self.focal(size)
        uv = np.stack([size / 2 + f * cam[:, 0] / cam[:, 2], size / 2 - f * cam[:, 1] / cam[:, 2]], axis=1)
        return uv, cam[:, 2]


@dataclass
class Material:
    """A texture and how it maps onto a surface: tiled every `tile_m` metres, or stretched to fit."""

    texture: tx.Texture
    tile_m: float = 1.0
    shade: float = 1.0


@dataclass
class Decal:
    """A photograph hung on a room wall: face index and its rectangle in face coordinates (metres)."""

    face: int
    u0: float
    u1: float
    v0: float
    v1: float
    texture: tx.Texture


@dataclass
class Scene:
    """What to render: the camera, the surfaces and the sky."""

    kind: str  # "indoor" or "outdoor"
    camera: Camera
    ground: Material | None = None
    room: tuple | None = None  # (lo (3,), hi (3,), [6 Materials: -x, +x, floor, ceiling, -z, +z])
    decals: list = field(default_factory=list)
    boxes: list = field(default_factory=list)  # [(lo (3,), hi (3,), Material)]
    hills: list = field(default_factory=list)  # [(centre (3,), radius, Material)]
    sky: np.ndarray | None = None  # (3,) horizon colour
    sky_top: np.ndarray | None = None
    clouds: tx.Texture | None = None
    fog_m: float = 0.0  # fog distance; 0 for none
    fog_colour: np.ndarray | None = None
    sun: np.ndarray | None = None  # unit vector towards the sun (outdoor lighting)


def _slab(o: np.ndarray, d: np.ndarray, lo: np.ndarray, hi: np.ndarray):
    """Ray-box slab test: per-axis entry and exit parameters, (N, 3) each."""
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = 1.0 / d
        t1, t2 = (lo - o) * inv, (hi - o) * inv
    return np.minimum(t1, t2), np.maximum(t1, t2)


def _face_coords(points: np.ndarray, axis: np.ndarray, lo: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """In-plane coordinates (metres) of hit points on axis-aligned faces: (x, z) on floors, (along, -y) on walls."""
    rel = points - lo
    u = np.where(axis == 0, rel[:, 2], rel[:, 0])
    v = np.where(axis == 1, rel[:, 2], -rel[:, 1])
    return u, v


def render(scene: Scene, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Render `scene` at size x size: RGB uint8 (H, W, 3), depth float32 metres (H, W), surface kind int8 (H, W)."""
    ss = SUPERSAMPLE
    cam = scene.camera
    d = cam.rays(size, ss).reshape(-1, 3)
    t_best, surf, shaders = _nearest_hits(scene, cam.centre, d)
    colour, kind = _shade_hits(scene, shaders, surf, t_best, d, cam.focal(size) * ss)
    big = size * ss
    rgb = cv2.resize(colour.reshape(big, big, 3), (size, size), interpolation=cv2.INTER_AREA)
    mid = ss // 2
    depth = np.where(surf < 0, SKY_DEPTH, t_best).reshape(big, big)[mid::ss, mid::ss]  # camera-z of the centre ray
    kinds = kind.reshape(big, big)[mid::ss, mid::ss]
    return (np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8), depth.astype(np.float32), kinds


def _nearest_hits(scene: Scene, o: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray, list]:
    """Each ray's nearest surface: its distance (inf: sky), the index of its shader (-1: sky), and the shaders."""
    n = d.shape[0]
    t_best = np.full(n, np.inf)
    surf = np.full(n, -1, np.int32)  # index into `shaders`
    shaders: list = []

    def offer(t: np.ndarray, shader) -> None:
        nonlocal t_best, surf
        better = (t > 1e-6) & (t < t_best)
        t_best = np.where(better, t, t_best)
        surf = np.where(better, len(shaders), surf)
        shaders.append(shader)

    if scene.ground is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(d[:, 1] < 0, -o[1] / d[:, 1], np.inf)
        offer(t, ("ground", scene.ground))
    if scene.room is not None:
        lo, hi, mats = scene.room
        _, tmax = _slab(o, d, lo, hi)
        offer(tmax.min(axis=1), ("room", lo, hi, mats, tmax.argmin(axis=1)))
    for lo, hi, mat in scene.boxes:
        tmin, tmax = _slab(o, d, lo, hi)
        t_in, t_out = tmin.max(axis=1), tmax.min(axis=1)
        offer(np.where((t_in <= t_out) & (t_in > 0), t_in, np.inf), ("box", lo, hi, mat, tmin.argmax(axis=1)))
    for centre, radius, mat in scene.hills:
        oc = o - centre
        b = d @ oc
        a = np.einsum("ij,ij->i", d, d)
        disc = b * b - a * (oc @ oc - radius**2)
        with np.errstate(invalid="ignore"):
            t = (-b - np.sqrt(disc)) / a
        offer(np.where(disc > 0, t, np.inf), ("hill", centre, radius, mat))
    return t_best, surf, shaders


def _shade_hits(scene: Scene, shaders: list, surf: np.ndarray, t_best: np.ndarray, d: np.ndarray,
                f_ss: float) -> tuple[np.ndarray, np.ndarray]:
    """Colour (float, linear in [0, 1]) and surface kind of every ray from its hit, sky and fog included."""
    o = scene.camera.centre
    n = d.shape[0]
    colour = np.zeros((n, 3), np.float32)
    kind = np.full(n, SKY, np.int8)
    dlen = np.linalg.norm(d, axis=1)
    for i, shader in enumerate(shaders):
        sel = np.nonzero(surf == i)[0]
        if sel.size == 0:
            continue
        t = t_best[sel]
        p = o + t[:, None] * d[sel]
        if shader[0] in ("room", "box"):
            shader = shader[:-1] + (shader[-1][sel],)  # the hit face's axis, per ray
        colour[sel], kind[sel] = _shade(scene, shader, p, d[sel], t, dlen[sel], f_ss)
    sky = surf < 0
    colour[sky] = _sky(scene, d[sky])
    if scene.fog_m > 0:
        fog = (1 - np.exp(-np.where(sky, np.inf, t_best) * dlen / scene.fog_m)).astype(np.float32)[:, None]
        colour = (1 - fog) * colour + fog * scene.fog_colour[None, :]
    return colour, kind


def _footprint(t, dlen, cos_incidence, f_ss, texels_per_m):
    """Texels of level 0 covered by one (sub-)pixel at distance t, foreshortened by the incidence angle."""
    metres = t * dlen / f_ss / np.sqrt(np.maximum(cos_incidence, 0.05))
    return metres * texels_per_m


def _sample_tiled(mat: Material, u, v, t, dlen, cosi, f_ss):
    w, h = mat.texture.size
    per_m = w / mat.tile_m
    return mat.texture.sample(u * per_m, v * per_m, _footprint(t, dlen, cosi, f_ss, per_m)) * mat.shade


def _shade(scene: Scene, shader, p, d, t, dlen, f_ss):
    """Colour (N, 3) and surface kind (N,) for rays that hit one surface."""
    kind = shader[0]
    if kind == "ground":
        mat = shader[1]
        cosi = np.abs(d[:, 1]) / dlen
        col = _sample_tiled(mat, p[:, 0], p[:, 2], t, dlen, cosi, f_ss)
        return _light(scene, col, np.array([0.0, 1.0, 0.0])), GROUND
    if kind in ("room", "box"):
        _, lo, hi, mat_or_mats, axis = shader
        normal_axis = axis
        cosi = np.abs(d[np.arange(len(d)), normal_axis]) / dlen
        u, v = _face_coords(p, normal_axis, lo)
        if kind == "box":
            col = _sample_tiled(mat_or_mats, u, v, t, dlen, cosi, f_ss)
            normal = np.zeros_like(p)
            normal[np.arange(len(p)), normal_axis] = -np.sign(d[np.arange(len(d)), normal_axis])
            col = _light(scene, col, normal)
            return col, np.full(len(p), OTHER, np.int8)
        # inside a room: the exit face is the far wall; face = 2 * axis + (direction > 0)
        face = 2 * normal_axis + (d[np.arange(len(d)), normal_axis] > 0)
        col = np.zeros((len(p), 3), np.float32)
        for fi in np.unique(face):
            s = face == fi
            col[s] = _sample_tiled(mat_or_mats[fi], u[s], v[s], t[s], dlen[s], cosi[s], f_ss)
        for dec in scene.decals:
            s = (face == dec.face) & (u >= dec.u0) & (u <= dec.u1) & (v >= dec.v0) & (v <= dec.v1)
            if s.any():
                w, h = dec.texture.size
                per_m = w / (dec.u1 - dec.u0)
                fp = _footprint(t[s], dlen[s], cosi[s], f_ss, per_m)
                col[s] = dec.texture.sample((u[s] - dec.u0) * per_m, (v[s] - dec.v0) * h / (dec.v1 - dec.v0), fp)
        return col, np.where(face == 2, GROUND, OTHER).astype(np.int8)
    if kind == "hill":
        _, centre, radius, mat = shader
        normal = (p - centre) / radius
        cosi = np.abs(np.einsum("ij,ij->i", normal, d)) / dlen
        col = _sample_tiled(mat, p[:, 0], p[:, 2], t, dlen, cosi, f_ss)
        return _light(scene, col, normal), np.full(len(p), OTHER, np.int8)
    raise ValueError(f"unknown surface kind {kind!r}")


def _light(scene: Scene, col: np.ndarray, normal: np.ndarray) -> np.ndarray:
    """Outdoor surfaces get ambient plus Lambert sun light; indoor ones are lit by their material shade."""
    if scene.sun is None:
        return col
    lam = np.clip(np.atleast_2d(normal) @ scene.sun, 0, 1)
    return col * (0.55 + 0.55 * lam)[:, None].astype(np.float32)


def _sky(scene: Scene, d: np.ndarray) -> np.ndarray:
    if len(d) == 0:
        return np.zeros((0, 3), np.float32)
    if scene.sky is None:
        return np.zeros((len(d), 3), np.float32)
    elev = np.clip(d[:, 1] / np.linalg.norm(d, axis=1), 0, 1)[:, None]
    grad = (1 - elev**0.6) * scene.sky[None, :] + elev**0.6 * scene.sky_top[None, :]
    if scene.clouds is not None:
        # project the ray onto a cloud layer 1 km up; far clouds fade into the horizon colour
        h = np.maximum(d[:, 1], 1e-3)
        u, v = d[:, 0] / h * 0.25, d[:, 2] / h * 0.25
        w, _ = scene.clouds.size
        cover = scene.clouds.sample(u * w, v * w, 1 / np.maximum(elev[:, 0], 0.05) * 4)[:, :1]
        cover = np.clip((cover - 0.5) * 2.5, 0, 1) * np.clip(elev * 6, 0, 1)
        grad = (1 - cover) * grad + cover * 0.95
    return grad.astype(np.float32)
