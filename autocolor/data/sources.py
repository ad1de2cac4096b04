"""Where the photos come from: Debian and PyPI packages, split so that no package is in two splits.

Every file named here was opened and looked at (``shared/data.md``); art, renders, screenshots,
grayscale photos and near-duplicates are left out. Splits: ``train``; ``val`` (whole sub-collections,
used to choose every setting); ``eval`` (the public evaluation photos, scored to report only).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

_WALL = "usr/share/wallpapers/{}/contents/images/2560x1600.jpg"
_LOMIRI = "usr/share/backgrounds/{}.jpg"
_CV = "usr/share/doc/opencv-doc/examples/"
_GC = "usr/share/gcompris-qt/rcc/{}.rcc::{}"
_GC_SAME_MONUMENTS = ("brandenburgGate", "christTheRedeemer", "colosseum", "eiffelTower", "greatWall",
                      "mountRushmore", "statueOfLiberty", "tajMahal")  # fmt: skip
_STAMPS = "usr/share/tuxpaint/stamps/"
_EDJ = "usr/share/enlightenment/data/backgrounds/{}.edj::*.jpg"
_EDJ_PHOTOS = (
    "Bamboo",
    "God-Rays",
    "Green-Maple",
    "Lichen-Branches",
    "Mountain",
    "Red-Maple",
    "Sea-of-Lanterns",
    "Snow-Trees",
    "Spruce-Needles",
    "Sunset-Clouds",
    "Sunset-Hills",
    "White-Flower",
    "Yellow-Flower",
)  # the others are art or grayscale (Dunes, Peaks, Foggy-Trees...)
_LXQT_PHOTOS = (
    "Butterfly-Kenneth-Wimer.jpg",
    "Valendas.png",
    "after-the-rain.jpg",
    "appleflower.png",
    "butterfly.png",
    "cloud.png",
    "drop.png",
    "flowers.png",
    "fog.jpg",
    "this-is-not-windows.jpg",
)  # the others are art

_GIMP = "usr/share/gimp/2.0/help/en/images/"
_GIMP_PHOTOS = (
    "filters/examples/taj_orig.jpg",
    "filters/examples/distort/spherize-ex-orig.jpg",
    "filters/examples/kvitveis-orig.png",
    "filters/examples/light-and-shadow/vignette-ex-orig.jpg",
    "filters/examples/map/little_planet-origin.jpg",
    "filters/examples/map/pan-project-origin.jpg",
    "filters/examples/blur/mean_curvature-ex-1.jpg",
    "filters/examples/2zinnias.png",
    "filters/examples/cosmos-1.png",
    "using/duck_orig.png",
    "using/keyfob_orig.png",
    "using/threshold-orig.png",
    "tool-options/lockbrush-orig.png",
    "menus/colors/desaturate/colors-desaturate-original-sunflower.png",
    "menus/colors/desaturate/colors-desaturate-original-red-globe.png",
    "tutorials/quickie-flip-example-horizontal.jpg",
    "tutorials/quickie-jpeg-100.jpg",
    "tutorials/quickie-rotate-example-source.jpg",
    "tutorials/quickie-crop-example-source.jpg",
    "tutorials/quickie-remove-background-source.jpg",
    "tutorials/tone-mapping/apple-orchard-truck-from-camera.jpg",
    "tutorials/tone-mapping/power-lines.jpg",
)  # the manual's unedited example photos; the rest are filter results, dialogs and art


def _listed(name: str, prefix: str) -> tuple[str, ...]:
    """Paths listed one per line in ``lists/NAME`` (``#`` comments), under ``prefix``."""
    lines = (Path(__file__).parent / "lists" / name).read_text().splitlines()
    return tuple(prefix + line.strip() for line in lines if line.strip() and not line.startswith("#"))


SPLITS = ("train", "val", "eval")


@dataclass(frozen=True)
class Source:
    """A package and the photo files to take from it.

    A pattern ``ARCHIVE::GLOB`` takes the files matching GLOB inside a container (``containers``).
    """

    package: str
    split: str  # one of SPLITS
    patterns: tuple[str, ...]
    kind: str = "deb"  # "deb" (apt-get download) or "wheel" (pip download, "name==version")
    licence: str = ""  # where the package's copyright file is not machine-readable (DEP-5)
    stated: tuple[str, str] = ()  # (licence, copyright) a file beside the photos states, over DEP-5's
    exclude: tuple[str, ...] = ()  # output names (glob) left out after looking at them
    tree: str = ""  # keep the sub-folders below this path in the output name (else the file name only)


SOURCES = (
    Source("mate-backgrounds", "train", ("usr/share/backgrounds/mate/nature/*.jpg",)),
    Source(
        "plasma-workspace-wallpapers",
        "train",
        tuple(
            _WALL.format(n)
            for n in (
                "BytheWater",
                "ColorfulCups",
                "DarkestHour",
                "EveningGlow",
                "FallenLeaf",
                "Kite",
                "OneStandsOut",
                "Path",
                "summer_1am",
            )
        ),
        tree="usr/share/wallpapers/",  # every file is called 2560x1600.jpg: keep the wallpaper's folder
    ),
    Source(
        "lomiri-wallpapers-16.04",
        "train",
        tuple(
            _LOMIRI.format(n)
            for n in (
                "Bridge_by_Sander_Klootwijk",
                "Dragonfly_by_Bolly",
                "Picture_0B_by_freespace",
                "Picture_1A_by_freespace",
                "Wine_by_Jakkub_Mede",
                "aitzgorri_by_Aitzol_Berasategi",
                "free_by_Peter_Nerlich",
                "friends_by_Aitzol_Berasategi",
                "greentock_by_Peter_Nerlich",
                "life_by_Aitzol_Berasategi",
                "picosdeeuropa_by_Aitzol_Berasategi",
                "seeding_by_Clements_Engelhardt",
                "sunset_by_Aitzol_Berasategi",
            )
        ),
    ),
    Source("lomiri-wallpapers-20.04", "train", (_LOMIRI.format("Kleiber_by_Lukas_Baubkus"),)),
    Source(
        "libjxl-testdata",
        "train",
        (
            "usr/share/libjxl-testdata/jxl/flower/flower.png",
            "usr/share/libjxl-testdata/jxl/hdr_room.png",
            "usr/share/libjxl-testdata/external/wesaturate/500px/*_srgb8.png",
        ),
    ),
    Source("kphotoalbum", "train", ("usr/share/kphotoalbum/demo/*.jpg",), licence="GPL-2+"),
    Source(
        "gcompris-qt-data",
        "train",
        tuple(
            _GC.format(*a)
            for a in (
                ("clickgame", "*/sea?.webp"),
                ("explore_world_animals", "*.webp"),
                ("explore_farm_animals", "*.webp"),
                ("explore_world_music", "*.webp"),
                ("explore_monuments", "*.webp"),
                ("categorization", "*/images/*.webp"),
            )
        ),
        exclude=("*/castleClinton.webp",)  # grayscale; then the monuments that explore_monuments also has
        + tuple(f"categorization/images/monuments/{n}.webp" for n in _GC_SAME_MONUMENTS),
    ),
    Source("tuxpaint-stamps-default", "train", _listed("tuxpaint-stamps.txt", _STAMPS), tree=_STAMPS),
    Source("enlightenment-data", "train", tuple(_EDJ.format(n) for n in _EDJ_PHOTOS)),
    Source(
        "lxqt-themes",
        "train",
        tuple(f"usr/share/lxqt/wallpapers/{n}" for n in _LXQT_PHOTOS),
        stated=("CC-BY-SA-3.0", "2022 LXQt Project Team; photos by stefonarch (wallpapers/License)"),
    ),
    Source(
        "gimp-help-en",
        "train",
        tuple(_GIMP + n for n in _GIMP_PHOTOS),
        licence="GFDL-NIV-1.2+",  # stated by gimp-help-common, where this package's doc folder points
    ),
    Source(
        "stellarium-data",
        "train",
        tuple(
            f"usr/share/stellarium/landscapes/{n}"
            for n in ("guereins/guereins*.png", "hurricane/hurricane*.png")
        ),
        exclude=("*-lgt.png",),  # a light map, not a photo
    ),
    Source(
        "gradio==6.31.0",
        "train",
        tuple(f"gradio/media_assets/images/{n}" for n in ("cheetah.jpg", "lion.jpg", "tower.jpg")),
        "wheel",
    ),  # groot.jpeg is a film render
    Source("matplotlib==3.11.2", "train", ("matplotlib/mpl-data/sample_data/grace_hopper.jpg",), "wheel"),
    Source("scikit-learn==1.9.1", "train", ("sklearn/datasets/images/*.jpg",), "wheel"),
    # validation: whole sub-collections that share no scene with training or evaluation
    Source("gcompris-qt-data", "val", (_GC.format("erase", "*.webp"),)),
    Source(
        "tuxpaint-data",
        "val",
        (
            "usr/share/tuxpaint/templates/*.jpg",
            "usr/share/tuxpaint/starters/skyline-sf-dusk-back.jpeg",
            "usr/share/tuxpaint/starters/reef-back.png",
        ),
        exclude=("mossy_bark.jpg",),  # near-gray
    ),
    Source(
        "opencv-doc",
        "eval",
        tuple(
            _CV + "data/" + n
            for n in (
                "aero1.jpg",
                "aloeL.jpg",
                "apple.jpg",
                "baboon.jpg",
                "board.jpg",
                "building.jpg",
                "butterfly.jpg",
                "ela_original.jpg",
                "fruits.jpg",
                "home.jpg",
                "left.jpg",
                "leuvenA.jpg",
                "messi5.jpg",
                "orange.jpg",
                "squirrel_cls.jpg",
                "stuff.jpg",
                "graf1.png",
                "rubberwhale1.png",
                "smarties.png",
                "chicky_512.png",
            )
        )
        + (
            _CV + "alphamat/input_images/plant.jpg",
            _CV + "reg/home.png",
            _CV + "dnn_superres/butterfly.png",
            _CV + "hfs/data/000.jpg",
            _CV + "hfs/data/001.jpg",
            _CV + "hfs/data/002.jpg",
        ),
    ),
    Source("palapeli-data", "eval", ("usr/share/palapeli/collection/*.jpg",)),
    Source(
        "scikit-image==0.26.0",
        "eval",
        tuple(
            f"skimage/data/{n}"
            for n in ("astronaut.png", "chelsea.png", "coffee.png", "motorcycle_left.png", "rocket.jpg")
        ),
        "wheel",
    ),
)
