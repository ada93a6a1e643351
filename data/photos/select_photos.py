#!/usr/bin/env python3
"""Rebuild the curated background photographs in ``data/photos``.

All photographs come from Debian 12 ("bookworm") binary packages whose
copyright files allow redistribution (CC0 / public domain, CC-BY, CC-BY-SA,
GPL, LGPL).  Nothing is installed: each package is downloaded and unpacked
into its own folder named after the package.

Usage::

    mkdir -p /tmp/photos-work/debs /tmp/photos-work/pkgs
    cd /tmp/photos-work/debs
    apt-get update
    apt-get download scratch=1.4.0.6~dfsg1-6.1 \\
        plasma-workspace-wallpapers=4:5.27.5-2 \\
        lomiri-wallpapers-16.04=20.04.0-2 lomiri-wallpapers-20.04=20.04.0-2 \\
        tuxpaint-data=1:0.9.28-sdl2-1 palapeli-data=4:22.12.3-1 \\
        scribus-template=1.2.4.1-6 lxqt-themes=1.2.0-1
    for f in *.deb; do p=${f%%_*}; dpkg-deb -x "$f" ../pkgs/$p; done
    python data/photos/select_photos.py /tmp/photos-work/pkgs

For every entry of ``CURATED`` the script reads ``PKGROOT/PACKAGE/SOURCE``,
applies the EXIF orientation, converts to RGB (transparent pixels, if any,
are flattened onto white), shrinks it with Lanczos so that the shorter side
is ``--short-side`` pixels (default 360; never upscaling, and a photo whose
shorter side is under ``--min-short-side`` = 256 px is an error), then
centre-crops the longer side to at most ``--max-long-side`` (default 720)
pixels, and saves ``images/NAME.jpg`` (JPEG quality 88, optimized, no
metadata).  It then writes ``photos.json``: one record per entry, in the
order of ``CURATED``, with the package version (checked against the first
line of the package's ``changelog.Debian.gz``), the author, the licence, the
output size and the SHA-256 of the original file.

Only numpy and Pillow are needed.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

HERE = Path(__file__).resolve().parent

# Exact Debian 12 versions the bundle was made from.
PACKAGE_VERSIONS: dict[str, str] = {
    "scratch": "1.4.0.6~dfsg1-6.1",
    "plasma-workspace-wallpapers": "4:5.27.5-2",
    "lomiri-wallpapers-16.04": "20.04.0-2",
    "lomiri-wallpapers-20.04": "20.04.0-2",
    "tuxpaint-data": "1:0.9.28-sdl2-1",
    "palapeli-data": "4:22.12.3-1",
    "scribus-template": "1.2.4.1-6",
    "lxqt-themes": "1.2.0-1",
}

_SCR = "/usr/share/scratch/Media/Backgrounds"
_MIT = "Massachusetts Institute of Technology (Scratch Team, MIT Media Lab)"
_KDE = "/usr/share/wallpapers"
_LOM = "/usr/share/backgrounds"
_TPT = "/usr/share/tuxpaint/templates"
_TPS = "/usr/share/tuxpaint/starters"
_KEN = "Bill Kendrick"
_LXQ = "/usr/share/lxqt/wallpapers"
_STA = "stefonarch (standreas@riseup.net), LXQt Project Team"

# (package, source path inside the package, name, kind, author, licence)
CURATED: list[tuple[str, str, str, str, str, str]] = [
    # --- Scratch 1.4 backgrounds (MIT Media Lab), CC-BY-SA-3.0 ------------
    ("scratch", f"{_SCR}/Indoors/chalkboard.jpg", "scratch_stage_chalkboard", "indoor", _MIT, "CC-BY-SA-3.0"),
    ("scratch", f"{_SCR}/Indoors/clothing-store.jpg", "scratch_clothing_store", "shop", _MIT, "CC-BY-SA-3.0"),
    ("scratch", f"{_SCR}/Indoors/hall.jpg", "scratch_office_hall", "indoor", _MIT, "CC-BY-SA-3.0"),
    ("scratch", f"{_SCR}/Indoors/kitchen.jpg", "scratch_kitchen", "indoor", _MIT, "CC-BY-SA-3.0"),
    ("scratch", f"{_SCR}/Indoors/the-movies-inside.jpg", "scratch_cinema_lobby", "indoor", _MIT, "CC-BY-SA-3.0"),
    ("scratch", f"{_SCR}/Nature/beach-malibu.jpg", "scratch_malibu_beach", "beach", _MIT, "CC-BY-SA-3.0"),
    ("scratch", f"{_SCR}/Nature/canyon.jpg", "scratch_canyon_trail", "mountain", _MIT, "CC-BY-SA-3.0"),
    ("scratch", f"{_SCR}/Nature/flower-bed.jpg", "scratch_flower_bed", "garden", _MIT, "CC-BY-SA-3.0"),
    ("scratch", f"{_SCR}/Nature/forest.jpg", "scratch_birch_forest", "forest", _MIT, "CC-BY-SA-3.0"),
    ("scratch", f"{_SCR}/Nature/garden-rock.jpg", "scratch_garden_rock", "garden", _MIT, "CC-BY-SA-3.0"),
    ("scratch", f"{_SCR}/Nature/grand-canyon.jpg", "scratch_grand_canyon", "mountain", _MIT, "CC-BY-SA-3.0"),
    ("scratch", f"{_SCR}/Nature/gravel-desert.jpg", "scratch_gravel_desert", "nature", _MIT, "CC-BY-SA-3.0"),
    ("scratch", f"{_SCR}/Nature/hill.jpg", "scratch_coastal_hill", "nature", _MIT, "CC-BY-SA-3.0"),
    ("scratch", f"{_SCR}/Nature/lake.jpg", "scratch_woodland_pond", "water", _MIT, "CC-BY-SA-3.0"),
    ("scratch", f"{_SCR}/Nature/pathway.jpg", "scratch_garden_pathway", "garden", _MIT, "CC-BY-SA-3.0"),
    ("scratch", f"{_SCR}/Nature/tree.jpg", "scratch_tree_trunk_mulch", "garden", _MIT, "CC-BY-SA-3.0"),
    ("scratch", f"{_SCR}/Nature/water-and-rocks.jpg", "scratch_rocky_stream", "water", _MIT, "CC-BY-SA-3.0"),
    ("scratch", f"{_SCR}/Nature/wave.jpg", "scratch_breaking_wave", "water", _MIT, "CC-BY-SA-3.0"),
    ("scratch", f"{_SCR}/Outdoors/all-sports-mural.jpg", "scratch_park_mural", "street", _MIT, "CC-BY-SA-3.0"),
    ("scratch", f"{_SCR}/Outdoors/atom-playground.jpg", "scratch_playground", "other", _MIT, "CC-BY-SA-3.0"),
    ("scratch", f"{_SCR}/Outdoors/bench-with-view.jpg", "scratch_bench_with_view", "nature", _MIT, "CC-BY-SA-3.0"),
    ("scratch", f"{_SCR}/Outdoors/berkeley-mural.jpg", "scratch_street_mural", "street", _MIT, "CC-BY-SA-3.0"),
    ("scratch", f"{_SCR}/Outdoors/boardwalk.jpg", "scratch_boardwalk", "beach", _MIT, "CC-BY-SA-3.0"),
    ("scratch", f"{_SCR}/Outdoors/brick-wall-and-stairs.jpg", "scratch_brick_wall_stairs", "building", _MIT, "CC-BY-SA-3.0"),
    ("scratch", f"{_SCR}/Outdoors/brick-wall2.jpg", "scratch_brick_wall_lawn", "building", _MIT, "CC-BY-SA-3.0"),
    ("scratch", f"{_SCR}/Outdoors/building-at-mit.jpg", "scratch_mit_building", "building", _MIT, "CC-BY-SA-3.0"),
    ("scratch", f"{_SCR}/Outdoors/building-fireproof.jpg", "scratch_fireproof_warehouse", "building", _MIT, "CC-BY-SA-3.0"),
    ("scratch", f"{_SCR}/Outdoors/castle.jpg", "scratch_papal_palace", "building", _MIT, "CC-BY-SA-3.0"),
    ("scratch", f"{_SCR}/Outdoors/city-with-water.jpg", "scratch_city_river_night", "city", _MIT, "CC-BY-SA-3.0"),
    ("scratch", f"{_SCR}/Outdoors/city-with-water2.jpg", "scratch_city_river_day", "city", _MIT, "CC-BY-SA-3.0"),
    ("scratch", f"{_SCR}/Outdoors/driveway.jpg", "scratch_chateau_driveway", "garden", _MIT, "CC-BY-SA-3.0"),
    ("scratch", f"{_SCR}/Outdoors/hallway_outdoors.jpg", "scratch_arcade_colonnade", "building", _MIT, "CC-BY-SA-3.0"),
    ("scratch", f"{_SCR}/Outdoors/hay_field.jpg", "scratch_hay_field", "field", _MIT, "CC-BY-SA-3.0"),
    ("scratch", f"{_SCR}/Outdoors/houses.jpg", "scratch_shanty_houses", "street", _MIT, "CC-BY-SA-3.0"),
    ("scratch", f"{_SCR}/Outdoors/mansion.jpg", "scratch_mansion_lawn", "building", _MIT, "CC-BY-SA-3.0"),
    ("scratch", f"{_SCR}/Outdoors/parking-ramp.jpg", "scratch_parking_garage", "street", _MIT, "CC-BY-SA-3.0"),
    ("scratch", f"{_SCR}/Outdoors/pool.jpg", "scratch_swimming_pool", "water", _MIT, "CC-BY-SA-3.0"),
    ("scratch", f"{_SCR}/Outdoors/route66.jpg", "scratch_route66_road", "street", _MIT, "CC-BY-SA-3.0"),
    ("scratch", f"{_SCR}/Outdoors/silos.jpg", "scratch_painted_silos", "field", _MIT, "CC-BY-SA-3.0"),
    ("scratch", f"{_SCR}/Outdoors/the-movies.jpg", "scratch_cinema_plaza", "building", _MIT, "CC-BY-SA-3.0"),
    ("scratch", f"{_SCR}/Outdoors/train-tracks1.jpg", "scratch_railway_valley", "mountain", _MIT, "CC-BY-SA-3.0"),
    ("scratch", f"{_SCR}/Outdoors/train-tracks2.jpg", "scratch_railway_woods", "other", _MIT, "CC-BY-SA-3.0"),
    ("scratch", f"{_SCR}/Outdoors/village.jpg", "scratch_hillside_village", "street", _MIT, "CC-BY-SA-3.0"),
    ("scratch", f"{_SCR}/Outdoors/wooden-house.jpg", "scratch_wooden_house", "building", _MIT, "CC-BY-SA-3.0"),
    ("scratch", f"{_SCR}/Sports/baseball-field.jpg", "scratch_baseball_stadium", "other", _MIT, "CC-BY-SA-3.0"),
    ("scratch", f"{_SCR}/Sports/football-field.jpg", "scratch_football_stadium", "other", _MIT, "CC-BY-SA-3.0"),
    ("scratch", f"{_SCR}/Sports/playing-field.jpg", "scratch_playing_field", "field", _MIT, "CC-BY-SA-3.0"),
    ("scratch", f"{_SCR}/Sports/tennis-backboard.jpg", "scratch_tennis_backboard", "other", _MIT, "CC-BY-SA-3.0"),
    # --- KDE Plasma 5.27 wallpapers (metadata.json: LGPLv3) ---------------
    ("plasma-workspace-wallpapers", f"{_KDE}/BytheWater/contents/images/2560x1600.jpg", "kde_by_the_water_pier", "water", "Maciej Wiklo", "LGPL-3.0-only"),
    ("plasma-workspace-wallpapers", f"{_KDE}/ColdRipple/contents/images/2560x1600.jpg", "kde_cold_ripple_jetty", "water", "Risto Saukonpää", "LGPL-3.0-only"),
    ("plasma-workspace-wallpapers", f"{_KDE}/DarkestHour/contents/images/2560x1600.jpg", "kde_darkest_hour_lake", "water", "Risto Saukonpää", "LGPL-3.0-only"),
    ("plasma-workspace-wallpapers", f"{_KDE}/EveningGlow/contents/images/2560x1600.jpg", "kde_evening_glow_boats", "water", "Ian Hex", "LGPL-3.0-only"),
    ("plasma-workspace-wallpapers", f"{_KDE}/FallenLeaf/contents/images/2560x1600.jpg", "kde_fallen_leaf", "nature", "Martin Klapetek", "LGPL-3.0-only"),
    ("plasma-workspace-wallpapers", f"{_KDE}/OneStandsOut/contents/images/2560x1600.jpg", "kde_moss_carpet", "nature", "Risto Saukonpää", "LGPL-3.0-only"),
    ("plasma-workspace-wallpapers", f"{_KDE}/Path/contents/images/2560x1600.jpg", "kde_forest_path", "forest", "Risto Saukonpää", "LGPL-3.0-only"),
    ("plasma-workspace-wallpapers", f"{_KDE}/summer_1am/contents/images/2560x1600.jpg", "kde_summer_night_lake", "water", "Risto Saukonpää", "LGPL-3.0-only"),
    # --- Lomiri (Ubuntu Touch) wallpapers ----------------------------------
    ("lomiri-wallpapers-16.04", f"{_LOM}/Bridge_by_Sander_Klootwijk.jpg", "lomiri_bridge_beach_sky", "sky", "Sander Klootwijk", "CC-BY-SA-4.0"),
    ("lomiri-wallpapers-16.04", f"{_LOM}/Dragonfly_by_Bolly.jpg", "lomiri_dragonfly_tree", "nature", "Bolly", "CC-BY-SA-4.0"),
    ("lomiri-wallpapers-16.04", f"{_LOM}/Wine_by_Jakkub_Mede.jpg", "lomiri_living_room_wine", "indoor", "Jakub Mede", "CC-BY-4.0"),
    ("lomiri-wallpapers-16.04", f"{_LOM}/aitzgorri_by_Aitzol_Berasategi.jpg", "lomiri_aitzgorri_mountains", "mountain", "Aitzol Berasategi", "CC-BY-4.0"),
    ("lomiri-wallpapers-16.04", f"{_LOM}/friends_by_Aitzol_Berasategi.jpg", "lomiri_dogs_wooden_house", "building", "Aitzol Berasategi", "CC-BY-4.0"),
    ("lomiri-wallpapers-16.04", f"{_LOM}/life_by_Aitzol_Berasategi.jpg", "lomiri_forest_creek", "forest", "Aitzol Berasategi", "CC-BY-4.0"),
    ("lomiri-wallpapers-16.04", f"{_LOM}/picosdeeuropa_by_Aitzol_Berasategi.jpg", "lomiri_picos_de_europa", "mountain", "Aitzol Berasategi", "CC-BY-4.0"),
    ("lomiri-wallpapers-16.04", f"{_LOM}/seeding_by_Clements_Engelhardt.jpg", "lomiri_dandelion_meadow", "field", "Clemens Engelhardt", "CC0-1.0"),
    ("lomiri-wallpapers-16.04", f"{_LOM}/sunset_by_Aitzol_Berasategi.jpg", "lomiri_mountain_sunset", "mountain", "Aitzol Berasategi", "CC-BY-4.0"),
    ("lomiri-wallpapers-20.04", f"{_LOM}/Kleiber_by_Lukas_Baubkus.jpg", "lomiri_nuthatch_tree", "forest", "Lukas Baubkus", "CC-BY-SA-3.0"),
    # --- Tux Paint templates and starters ----------------------------------
    ("tuxpaint-data", f"{_TPT}/cliff.jpg", "tuxpaint_cliff", "mountain", _KEN, "GPL-2.0-or-later"),
    ("tuxpaint-data", f"{_TPT}/corn_maze.jpg", "tuxpaint_corn_maze", "field", _KEN, "GPL-2.0-or-later"),
    ("tuxpaint-data", f"{_TPT}/jellyfish.jpg", "tuxpaint_jellyfish_aquarium", "water", _KEN, "GPL-2.0-or-later"),
    ("tuxpaint-data", f"{_TPT}/lighthouse.jpg", "tuxpaint_lighthouse", "building", _KEN, "GPL-2.0-or-later"),
    ("tuxpaint-data", f"{_TPT}/mossy_log.jpg", "tuxpaint_mossy_log", "forest", _KEN, "GPL-2.0-or-later"),
    ("tuxpaint-data", f"{_TPT}/ocean_waves.jpg", "tuxpaint_ocean_waves", "water", _KEN, "GPL-2.0-or-later"),
    ("tuxpaint-data", f"{_TPT}/redwoods_above.jpg", "tuxpaint_redwoods_above", "forest", _KEN, "GPL-2.0-or-later"),
    ("tuxpaint-data", f"{_TPT}/rocks.jpg", "tuxpaint_pebble_beach", "beach", _KEN, "GPL-2.0-or-later"),
    ("tuxpaint-data", f"{_TPT}/sheep.jpg", "tuxpaint_sheep_pasture", "field", _KEN, "GPL-2.0-or-later"),
    ("tuxpaint-data", f"{_TPT}/sun_behind_clouds.jpg", "tuxpaint_sun_behind_clouds", "sky", _KEN, "GPL-2.0-or-later"),
    ("tuxpaint-data", f"{_TPT}/sun_behind_leaves.jpg", "tuxpaint_sun_behind_leaves", "forest", _KEN, "GPL-2.0-or-later"),
    ("tuxpaint-data", f"{_TPT}/trees_above.jpg", "tuxpaint_treetops_above", "forest", _KEN, "GPL-2.0-or-later"),
    ("tuxpaint-data", f"{_TPT}/trees_at_dusk.jpg", "tuxpaint_trees_at_dusk", "sky", _KEN, "GPL-2.0-or-later"),
    ("tuxpaint-data", f"{_TPT}/wool_mill_machine.jpg", "tuxpaint_wool_mill", "indoor", _KEN, "GPL-2.0-or-later"),
    ("tuxpaint-data", f"{_TPS}/skyline-sf-dusk-back.jpeg", "tuxpaint_san_francisco_dusk", "city", "Rich Bourgerie, NOAA", "LicenseRef-Public-Domain"),
    ("tuxpaint-data", f"{_TPS}/reef-back.png", "tuxpaint_coral_reef", "water", "Thomas K. Gibson, NOAA", "LicenseRef-Public-Domain"),
    # --- Palapeli puzzle collection ----------------------------------------
    ("palapeli-data", "/usr/share/palapeli/collection/castle-maintenon.jpg", "palapeli_castle_maintenon", "building", "Eric Pouhier", "GPL-2.0-or-later"),
    ("palapeli-data", "/usr/share/palapeli/collection/cincinnati-bridge.jpg", "palapeli_cincinnati_bridge", "city", "Derek Jensen", "LicenseRef-Public-Domain"),
    # --- Scribus templates (Riku Leino, public domain) ---------------------
    ("scribus-template", "/usr/share/scribus/templates/br2/nature.jpg", "scribus_canyon_stream", "mountain", "Riku Leino", "LicenseRef-Public-Domain"),
    ("scribus-template", "/usr/share/scribus/templates/br2/sunset.jpg", "scribus_city_sunset", "city", "Riku Leino", "LicenseRef-Public-Domain"),
    # --- LXQt wallpapers (wallpapers/License: CC-BY-SA-3.0) -----------------
    ("lxqt-themes", f"{_LXQ}/after-the-rain.jpg", "lxqt_after_the_rain", "sky", _STA, "CC-BY-SA-3.0"),
    ("lxqt-themes", f"{_LXQ}/beam.png", "lxqt_sunbeam_hills", "mountain", _STA, "CC-BY-SA-3.0"),
    ("lxqt-themes", f"{_LXQ}/flowers.png", "lxqt_wildflower_meadow", "field", _STA, "CC-BY-SA-3.0"),
    ("lxqt-themes", f"{_LXQ}/fog.jpg", "lxqt_foggy_field", "field", _STA, "CC-BY-SA-3.0"),
    ("lxqt-themes", f"{_LXQ}/this-is-not-windows.jpg", "lxqt_green_hills", "field", _STA, "CC-BY-SA-3.0"),
    ("lxqt-themes", f"{_LXQ}/Valendas.png", "lxqt_valendas_mountains", "mountain", "LXQt Project Team (uncredited photographer)", "CC-BY-SA-3.0"),
    ("lxqt-themes", f"{_LXQ}/cloud.png", "lxqt_cloudy_sky", "sky", "LXQt Project Team (uncredited photographer)", "CC-BY-SA-3.0"),
]

KINDS = {"indoor", "street", "city", "building", "shop", "nature", "field", "forest",
         "mountain", "water", "beach", "garden", "sky", "other"}


def changelog_version(pkg_dir: Path, package: str) -> str | None:
    """Version in the first line of the package's Debian changelog, if any."""
    doc = pkg_dir / "usr/share/doc" / package
    for name in ("changelog.Debian.gz", "changelog.Debian.amd64.gz"):
        path = doc / name
        if path.is_file():
            with gzip.open(path, "rt", encoding="utf-8", errors="replace") as fh:
                first = fh.readline()
            if "(" in first and ")" in first:
                return first[first.index("(") + 1:first.index(")")]
    return None


def to_rgb(im: Image.Image) -> Image.Image:
    """RGB copy of ``im``; any transparency is flattened onto white."""
    im = ImageOps.exif_transpose(im)
    if im.mode == "P" and "transparency" in im.info:
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA"):
        rgba = np.asarray(im.convert("RGBA"), dtype=np.float32)
        alpha = rgba[..., 3:4] / 255.0
        rgb = rgba[..., :3] * alpha + 255.0 * (1.0 - alpha)
        return Image.fromarray(np.clip(np.rint(rgb), 0, 255).astype(np.uint8), "RGB")
    return im.convert("RGB")


def fit(im: Image.Image, short_side: int, max_long: int) -> Image.Image:
    """Shrink so the shorter side is ``short_side`` (never enlarge), then
    centre-crop the longer side to ``max_long``."""
    w, h = im.size
    s = min(w, h)
    if s > short_side:
        scale = short_side / s
        if w <= h:
            size = (short_side, max(1, round(h * scale)))
        else:
            size = (max(1, round(w * scale)), short_side)
        im = im.resize(size, Image.LANCZOS)
        w, h = im.size
    if w > max_long:
        left = (w - max_long) // 2
        im = im.crop((left, 0, left + max_long, h))
    elif h > max_long:
        top = (h - max_long) // 2
        im = im.crop((0, top, w, top + max_long))
    return im


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("pkgroot", type=Path, help="folder holding one unpacked package per sub-folder")
    ap.add_argument("--out", type=Path, default=HERE, help="output folder (default: this script's folder)")
    ap.add_argument("--short-side", type=int, default=360)
    ap.add_argument("--min-short-side", type=int, default=256)
    ap.add_argument("--max-long-side", type=int, default=720)
    ap.add_argument("--quality", type=int, default=88)
    args = ap.parse_args(argv)

    names = [c[2] for c in CURATED]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        sys.exit(f"duplicate names: {dupes}")
    for pkg, _src, name, kind, _a, _l in CURATED:
        if kind not in KINDS or pkg not in PACKAGE_VERSIONS:
            sys.exit(f"bad entry {name}: kind={kind} package={pkg}")
        if not name.replace("_", "").isalnum() or name != name.lower() or not name.isascii():
            sys.exit(f"bad name {name!r}")

    for pkg, want in PACKAGE_VERSIONS.items():
        got = changelog_version(args.pkgroot / pkg, pkg)
        if got is not None and got.split(":")[-1] != want.split(":")[-1]:
            sys.exit(f"{pkg}: unpacked version {got} != expected {want}")

    img_dir = args.out / "images"
    img_dir.mkdir(parents=True, exist_ok=True)
    wanted = {f"{n}.jpg" for n in names}
    for old in img_dir.glob("*.jpg"):
        if old.name not in wanted:
            old.unlink()

    records = []
    for pkg, src, name, kind, author, licence in CURATED:
        path = args.pkgroot / pkg / src.lstrip("/")
        data = path.read_bytes()
        with Image.open(path) as im:
            im.load()
            if min(im.size) < args.min_short_side:
                sys.exit(f"{name}: {path} is only {im.size[0]}x{im.size[1]}")
            out = fit(to_rgb(im), args.short_side, args.max_long_side)
        dest = img_dir / f"{name}.jpg"
        out.save(dest, "JPEG", quality=args.quality, optimize=True)
        records.append({
            "name": name,
            "file": f"images/{name}.jpg",
            "kind": kind,
            "package": pkg,
            "package_version": PACKAGE_VERSIONS[pkg],
            "source": src,
            "author": author,
            "licence": licence,
            "width_px": out.size[0],
            "height_px": out.size[1],
            "sha256_of_source": hashlib.sha256(data).hexdigest(),
        })
        print(f"{name:36s} {out.size[0]:4d}x{out.size[1]:<4d} {dest.stat().st_size // 1024:4d} KB")

    (args.out / "photos.json").write_text(
        json.dumps(records, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{len(records)} photos -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
