#!/usr/bin/env python3
"""Rebuild the curated foreground cutouts in ``data/foregrounds``.

The cutouts are Microsoft Fluent Emoji *3D* renders (MIT licensed), taken from
the npm package ``@lobehub/fluent-emoji-3d`` (version 1.1.0), which ships them
as 256x256 RGBA WebP files named by code point under ``assets/``.

Usage::

    mkdir -p /tmp/fe3d && cd /tmp/fe3d
    npm pack @lobehub/fluent-emoji-3d@1.1.0
    tar xzf lobehub-fluent-emoji-3d-1.1.0.tgz
    python data/foregrounds/select_foregrounds.py /tmp/fe3d/package

For every entry of ``CURATED`` the script crops the image to its alpha bounding
box, shrinks it so that the longer side is at most ``--max-side`` pixels
(Lanczos on premultiplied alpha, never upscaling), saves it as RGBA WebP under
``images/NAME.webp`` and writes ``foregrounds.json`` with one record per entry,
in the order of ``CURATED``.  Only numpy and Pillow are needed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

PACKAGE = "@lobehub/fluent-emoji-3d"
PACKAGE_VERSION = "1.1.0"

# (source file inside the package, name, category, height in metres).
# height_m is a plausible real-world height of the whole depicted object as
# it stands upright (the vertical extent of the cropped cutout), e.g. the
# lamp for "couch_and_lamp", the antlers for "deer".
CURATED: list[tuple[str, str, str, float]] = [
    # --- animals -----------------------------------------------------------
    ("assets/1f404.webp", "cow", "animal", 1.5),
    ("assets/1f402.webp", "ox", "animal", 1.6),
    ("assets/1f403.webp", "water_buffalo", "animal", 1.6),
    ("assets/1f405.webp", "tiger", "animal", 1.0),
    ("assets/1f406.webp", "leopard", "animal", 0.8),
    ("assets/1f407.webp", "rabbit", "animal", 0.35),
    ("assets/1f408.webp", "cat", "animal", 0.4),
    ("assets/1f40e.webp", "horse", "animal", 1.8),
    ("assets/1f410.webp", "goat", "animal", 0.9),
    ("assets/1f411.webp", "sheep", "animal", 0.9),
    ("assets/1f412.webp", "monkey", "animal", 0.6),
    ("assets/1f413.webp", "rooster", "animal", 0.5),
    ("assets/1f415.webp", "dog", "animal", 0.7),
    ("assets/1f416.webp", "pig", "animal", 0.9),
    ("assets/1f418.webp", "elephant", "animal", 3.0),
    ("assets/1f422.webp", "turtle", "animal", 0.3),
    ("assets/1f427.webp", "penguin", "animal", 0.7),
    ("assets/1f42a.webp", "camel", "animal", 2.0),
    ("assets/1f43f-fe0f.webp", "chipmunk", "animal", 0.15),
    ("assets/1f983.webp", "turkey", "animal", 0.9),
    ("assets/1f986.webp", "duck", "animal", 0.4),
    ("assets/1f989.webp", "owl", "animal", 0.5),
    ("assets/1f98c.webp", "deer", "animal", 1.8),
    ("assets/1f98d.webp", "gorilla", "animal", 1.5),
    ("assets/1f98f.webp", "rhinoceros", "animal", 1.7),
    ("assets/1f994.webp", "hedgehog", "animal", 0.15),
    ("assets/1f998.webp", "kangaroo", "animal", 1.5),
    ("assets/1f999.webp", "llama", "animal", 1.8),
    ("assets/1f99a.webp", "peacock", "animal", 1.2),
    ("assets/1f99b.webp", "hippopotamus", "animal", 1.5),
    ("assets/1f9a7.webp", "orangutan", "animal", 1.0),
    ("assets/1f9a9.webp", "flamingo", "animal", 1.2),
    ("assets/1f9ac.webp", "bison", "animal", 1.8),
    ("assets/1f9ae.webp", "guide_dog", "animal", 0.8),
    # --- vehicles ----------------------------------------------------------
    ("assets/1f68c.webp", "bus", "vehicle", 3.2),
    ("assets/1f68d.webp", "oncoming_bus", "vehicle", 3.2),
    ("assets/1f690.webp", "minibus", "vehicle", 2.2),
    ("assets/1f691.webp", "ambulance", "vehicle", 2.7),
    ("assets/1f692.webp", "fire_engine", "vehicle", 3.2),
    ("assets/1f693.webp", "police_car", "vehicle", 1.7),
    ("assets/1f695.webp", "taxi", "vehicle", 1.7),
    ("assets/1f697.webp", "car", "vehicle", 1.5),
    ("assets/1f699.webp", "sport_utility_vehicle", "vehicle", 1.9),
    ("assets/1f69a.webp", "delivery_truck", "vehicle", 2.8),
    ("assets/1f69b.webp", "articulated_lorry", "vehicle", 3.8),
    ("assets/1f69c.webp", "tractor", "vehicle", 2.8),
    ("assets/1f3cd-fe0f.webp", "motorcycle", "vehicle", 1.1),
    ("assets/1f6b2.webp", "bicycle", "vehicle", 1.0),
    ("assets/1f6f4.webp", "kick_scooter", "vehicle", 1.0),
    ("assets/1f6f5.webp", "motor_scooter", "vehicle", 1.2),
    ("assets/1f6fa.webp", "auto_rickshaw", "vehicle", 1.8),
    ("assets/1f6fb.webp", "pickup_truck", "vehicle", 1.8),
    ("assets/1f9bd.webp", "manual_wheelchair", "vehicle", 0.95),
    ("assets/1f682.webp", "steam_locomotive", "vehicle", 4.2),
    # --- furniture ---------------------------------------------------------
    ("assets/1fa91.webp", "chair", "furniture", 0.9),
    ("assets/1f6cb-fe0f.webp", "couch_and_lamp", "furniture", 1.6),
    ("assets/1f6cf-fe0f.webp", "bed", "furniture", 1.0),
    ("assets/1f6bd.webp", "toilet", "furniture", 0.8),
    ("assets/1f6c1.webp", "bathtub", "furniture", 1.2),
    ("assets/1f4ba.webp", "seat", "furniture", 1.2),
    ("assets/1f4fa.webp", "television", "furniture", 0.9),
    ("assets/1f5a5-fe0f.webp", "desktop_computer", "furniture", 0.5),
    ("assets/1f5a8-fe0f.webp", "printer", "furniture", 0.4),
    # --- plants ------------------------------------------------------------
    ("assets/1fab4.webp", "potted_plant", "plant", 0.6),
    ("assets/1f335.webp", "cactus", "plant", 1.5),
    ("assets/1f332.webp", "evergreen_tree", "plant", 5.0),
    ("assets/1f333.webp", "deciduous_tree", "plant", 6.0),
    ("assets/1f334.webp", "palm_tree", "plant", 8.0),
    ("assets/1f384.webp", "christmas_tree", "plant", 2.0),
    ("assets/1f33b.webp", "sunflower", "plant", 1.5),
    ("assets/1f337.webp", "tulip", "plant", 0.4),
    ("assets/1f331.webp", "seedling", "plant", 0.15),
    ("assets/1f344.webp", "mushroom", "plant", 0.15),
    ("assets/1f38d.webp", "pine_decoration", "plant", 1.2),
    # --- objects -----------------------------------------------------------
    ("assets/1f5d1-fe0f.webp", "wastebasket", "object", 0.7),
    ("assets/1f6e2-fe0f.webp", "oil_drum", "object", 0.9),
    ("assets/1f9ef.webp", "fire_extinguisher", "object", 0.6),
    ("assets/26fd.webp", "fuel_pump", "object", 1.9),
    ("assets/1f4ee.webp", "postbox", "object", 1.3),
    ("assets/1faa3.webp", "bucket", "object", 0.3),
    ("assets/1f9fa.webp", "basket", "object", 0.4),
    ("assets/1f9f3.webp", "luggage", "object", 0.7),
    ("assets/1f4e6.webp", "package", "object", 0.4),
    ("assets/1f9f0.webp", "toolbox", "object", 0.3),
    ("assets/1f9f8.webp", "teddy_bear", "object", 0.4),
    ("assets/26c4.webp", "snowman", "object", 1.5),
    ("assets/1faa8.webp", "rock", "object", 0.5),
    ("assets/1f6a7.webp", "construction_barrier", "object", 1.0),
    ("assets/1f6d2.webp", "shopping_cart", "object", 1.0),
    ("assets/1f6dd.webp", "playground_slide", "object", 2.0),
    ("assets/1fa9c.webp", "ladder", "object", 2.5),
    ("assets/1f9cd.webp", "standing_person", "object", 1.7),
    ("assets/1f6b6.webp", "person_walking", "object", 1.7),
    ("assets/1f3c3.webp", "person_running", "object", 1.6),
    # --- food (only things that plausibly sit on a floor) ------------------
    ("assets/1f382.webp", "birthday_cake", "food", 0.2),
    ("assets/1f34d.webp", "pineapple", "food", 0.3),
    ("assets/1f36f.webp", "honey_pot", "food", 0.15),
    ("assets/1f96b.webp", "canned_food", "food", 0.12),
    ("assets/1f35e.webp", "bread", "food", 0.12),
    ("assets/1f348.webp", "melon", "food", 0.2),
]

CATEGORIES = ("animal", "vehicle", "furniture", "plant", "object", "food")


def emoji_from_source(source: str) -> str:
    """``assets/1f415-200d-1f9ba.webp`` -> the emoji string it encodes."""
    stem = Path(source).name.split(".", 1)[0]
    try:
        return "".join(chr(int(cp, 16)) for cp in stem.split("-"))
    except ValueError:
        return ""


def find_package_root(path: Path) -> Path:
    """Accept the unpack folder (with ``package/``) or ``package/`` itself."""
    if (path / "assets").is_dir():
        return path
    if (path / "package" / "assets").is_dir():
        return path / "package"
    raise SystemExit(
        f"error: {path} is not an unpacked {PACKAGE} tarball "
        f"(no assets/ or package/assets/ folder found)"
    )


def alpha_fill_ratio(alpha: np.ndarray, threshold: int) -> float:
    """Fraction of the alpha bounding box that is opaque (1.0 = rectangle)."""
    mask = alpha >= threshold
    if not mask.any():
        return 0.0
    ys, xs = np.nonzero(mask)
    box = (ys.max() - ys.min() + 1) * (xs.max() - xs.min() + 1)
    return float(mask.sum()) / float(box)


def process(src: Path, max_side: int, alpha_threshold: int) -> tuple[Image.Image, float]:
    with Image.open(src) as im:
        im.load()
        rgba = im.convert("RGBA")
    alpha = np.asarray(rgba.getchannel("A"))
    mask = alpha >= alpha_threshold
    if not mask.any():
        raise SystemExit(f"error: {src} is fully transparent")
    ys, xs = np.nonzero(mask)
    box = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
    cropped = rgba.crop(box)
    fill = alpha_fill_ratio(np.asarray(cropped.getchannel("A")), alpha_threshold)
    w, h = cropped.size
    scale = min(1.0, max_side / max(w, h))
    if scale < 1.0:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        # Pillow resamples RGBA in premultiplied form, so no dark fringes.
        cropped = cropped.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    return cropped, fill


def main(argv: list[str] | None = None) -> int:
    here = Path(__file__).resolve().parent
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("package_dir", type=Path,
                    help=f"unpacked {PACKAGE} tarball (folder holding package/ or assets/)")
    ap.add_argument("--out", type=Path, default=here,
                    help="output folder (default: the folder of this script)")
    ap.add_argument("--max-side", type=int, default=128,
                    help="longest side of the saved cutouts in pixels (default 128)")
    ap.add_argument("--quality", type=int, default=85,
                    help="WebP quality for the colour channels, 0-100 (default 85)")
    ap.add_argument("--lossless", action="store_true",
                    help="save lossless WebP instead of lossy colour + lossless alpha")
    ap.add_argument("--alpha-threshold", type=int, default=8,
                    help="alpha value (0-255) counted as object when cropping (default 8)")
    ap.add_argument("--max-fill", type=float, default=0.95,
                    help="warn when the opaque fraction of the crop exceeds this "
                         "(nearly rectangular cutout)")
    args = ap.parse_args(argv)

    root = find_package_root(args.package_dir)
    names = [n for _, n, _, _ in CURATED]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise SystemExit(f"error: duplicate names in CURATED: {dupes}")
    bad = sorted({c for _, _, c, _ in CURATED if c not in CATEGORIES})
    if bad:
        raise SystemExit(f"error: unknown categories in CURATED: {bad}")
    missing = [f"{n} ({s})" for s, n, _, _ in CURATED if not (root / s).is_file()]
    if missing:
        raise SystemExit(
            f"error: {len(missing)} curated source file(s) not found in {root}: "
            + ", ".join(missing)
        )

    img_dir = args.out / "images"
    img_dir.mkdir(parents=True, exist_ok=True)
    keep = {f"{n}.webp" for n in names}
    for stale in img_dir.glob("*.webp"):
        if stale.name not in keep:
            stale.unlink()

    records = []
    for source, name, category, height in CURATED:
        cut, fill = process(root / source, args.max_side, args.alpha_threshold)
        if fill > args.max_fill:
            print(f"warning: {name} ({source}) is nearly rectangular "
                  f"(fill {fill:.2f})", file=sys.stderr)
        rel = f"images/{name}.webp"
        save_kw = {"lossless": True, "quality": 100, "method": 6} if args.lossless else {
            "quality": args.quality, "alpha_quality": 100, "method": 6}
        cut.save(args.out / rel, format="WEBP", **save_kw)
        records.append({
            "name": name,
            "file": rel,
            "category": category,
            "height_m": height,
            "source": source,
            "emoji": emoji_from_source(source),
            "width_px": cut.width,
            "height_px": cut.height,
        })

    (args.out / "foregrounds.json").write_text(
        json.dumps(records, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")

    total = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    counts = {c: sum(r["category"] == c for r in records) for c in CATEGORIES}
    print(f"wrote {len(records)} cutouts to {img_dir}; categories {counts}; "
          f"folder total {total} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
