"""The synthetic fg_bg scenes: what `python -m evalib.data build` renders (a user of the original dataset needs none
of it).

Modules: `textures` (photographs and procedural materials, mip-mapped), `scene` (a pinhole camera and ray casting
against planes, boxes and spheres: colour and exact depth), `backgrounds` (the 100 rooms and outdoor views),
`compose` (foreground cutouts stood on the ground, scaled and z-tested: composite, mask and depth) and `generate`
(backgrounds rendered once and cached, samples composited in worker processes).
"""
