"""Colour grids, HSV conversion, named colours, colour attributes and similarity to a concept.

Everything here is float64 numpy, as upstream computed cubes, labels and similarity; tensors
are cast to float32 only at the model boundary. The HSV conversions follow scikit-image's
formulas exactly (checked against it in the tests) without importing it: skimage takes about
a second to import, longer than a whole training run's overhead budget.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass

import numpy as np

# ---------------------------------------------------------------------------------------------
# Grids


def coordinate_grid(c1: np.ndarray, c2: np.ndarray, c3: np.ndarray) -> np.ndarray:
    """[len(c1), len(c2), len(c3), 3] grid, first axis slowest ("ij" indexing)."""
    return np.stack(np.meshgrid(c1, c2, c3, indexing="ij"), axis=-1)


def rgb_cube(n: int) -> np.ndarray:
    """The n^3 RGB grid at the cell corners, linspace(0, 1, n) on each axis: [n, n, n, 3]."""
    c = np.linspace(0.0, 1.0, n)
    return coordinate_grid(c, c, c)


def cell_centres_with_corners(n: int) -> np.ndarray:
    """Upstream's "cell-centers" validation set: linspace(1/2n, 1-1/2n, n-1)^3 then the 8
    corners of the unit cube, flattened to [(n-1)^3 + 8, 3] (351 colours for n = 8)."""
    off = 1.0 / (2 * n)
    c = np.linspace(off, 1.0 - off, n - 1)
    centres = coordinate_grid(c, c, c).reshape(-1, 3)
    corners = coordinate_grid(*([np.array([0.0, 1.0])] * 3)).reshape(-1, 3)
    return np.concatenate([centres, corners], axis=0)


def validation_colors(kind: str, n: int) -> np.ndarray:
    """A spec's validation colours [N, 3]: "cell-centres" (with the corners) or the n^3 "grid"."""
    return cell_centres_with_corners(n) if kind == "cell-centres" else rgb_cube(n).reshape(-1, 3)


@dataclass(frozen=True)
class HsvCube:
    """An HSV grid: raw coordinates (hue may extend past [0, 1)) and its RGB colours."""

    h: np.ndarray
    s: np.ndarray
    v: np.ndarray
    rgb: np.ndarray  # [len(h), len(s), len(v), 3]

    @property
    def shape(self) -> tuple[int, int, int]:
        """The cube's (hues, saturations, values)."""
        return self.rgb.shape[:3]


def hsv_cube(h: np.ndarray, s: np.ndarray, v: np.ndarray) -> HsvCube:
    """Colours of an HSV grid; hue wraps mod 1 and S, V clip to [0, 1] for the conversion."""
    grid = coordinate_grid(np.mod(h, 1.0), np.clip(s, 0, 1), np.clip(v, 0, 1))
    return HsvCube(np.asarray(h), np.asarray(s), np.asarray(v), hsv_to_rgb(grid))


def arange_cyclic(step: float, lower: float = 0.0) -> np.ndarray:
    """One full turn of hues from `lower` in steps of `step` (12 hues for step 1/12)."""
    lower = lower % 1.0
    return np.mod(np.arange(lower, lower + 1.0, step), 1.0)


# ---------------------------------------------------------------------------------------------
# HSV conversion (scikit-image's formulas)


def rgb_to_hsv(rgb: np.ndarray) -> np.ndarray:
    """RGB [..., 3] in [0, 1] to HSV [..., 3]; H = 0 and S = 0 for greys (skimage.color.rgb2hsv)."""
    shape = np.shape(rgb)
    rgb = np.asarray(rgb, dtype=np.float64).reshape(-1, 3)
    out = np.empty_like(rgb)
    v = rgb.max(-1)
    delta = np.ptp(rgb, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        s = delta / v
    s[delta == 0.0] = 0.0
    with np.errstate(invalid="ignore", divide="ignore"):
        idx = rgb[..., 0] == v
        h = np.zeros_like(v)
        h[idx] = (rgb[idx, 1] - rgb[idx, 2]) / delta[idx]
        idx = rgb[..., 1] == v
        h[idx] = 2.0 + (rgb[idx, 2] - rgb[idx, 0]) / delta[idx]
        idx = rgb[..., 2] == v
        h[idx] = 4.0 + (rgb[idx, 0] - rgb[idx, 1]) / delta[idx]
    h = (h / 6.0) % 1.0
    h[delta == 0.0] = 0.0
    out[..., 0], out[..., 1], out[..., 2] = h, s, v
    return out.reshape(shape)


def hsv_to_rgb(hsv: np.ndarray) -> np.ndarray:
    """HSV [..., 3] to RGB [..., 3] (skimage.color.hsv2rgb)."""
    hsv = np.asarray(hsv, dtype=np.float64)
    h, s, v = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    hi = np.floor(h * 6)
    f = h * 6 - hi
    p = v * (1 - s)
    q = v * (1 - f * s)
    t = v * (1 - (1 - f) * s)
    sector = hi.astype(np.int64) % 6
    choices = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)]
    out = np.empty(hsv.shape, dtype=np.float64)
    for k, (r, g, b) in enumerate(choices):
        m = sector == k
        out[..., 0][m], out[..., 1][m], out[..., 2][m] = r[m], g[m], b[m]
    return out


# ---------------------------------------------------------------------------------------------
# Attributes that define the concepts


def redness(rgb: np.ndarray) -> np.ndarray:
    """r * (1 - g/2 - b/2): 1 at pure red, 0.5 at yellow and magenta."""
    return rgb[..., 0] * (1 - rgb[..., 1] / 2 - rgb[..., 2] / 2)


def vibrancy(rgb: np.ndarray) -> np.ndarray:
    """S * V (chroma): 1 at the six primary and secondary corners, 0 for greys."""
    hsv = rgb_to_hsv(rgb)
    return hsv[..., 1] * hsv[..., 2]


ATTRIBUTES = {"redness": redness, "vibrancy": vibrancy}


# ---------------------------------------------------------------------------------------------
# Named colours

HUES12 = {
    "red": 0.0, "orange": 1 / 12, "yellow": 1 / 6, "lime": 1 / 4, "green": 1 / 3, "teal": 5 / 12,
    "cyan": 1 / 2, "azure": 7 / 12, "blue": 2 / 3, "purple": 3 / 4, "magenta": 5 / 6, "pink": 11 / 12,
}
GRAYS5 = {"black": 0.0, "dark gray": 0.25, "gray": 0.5, "light gray": 0.75, "white": 1.0}


@dataclass(frozen=True)
class NamedColor:
    """A colour of the paper's tables, by name."""

    name: str
    hsv: tuple[float, float, float]
    rgb: tuple[float, float, float]

    @property
    def hex(self) -> str:
        """Upstream's swatch hex: int(c * 255), truncated, upper case (0.5 -> 7F)."""
        return "".join(f"{int(c * 255):02X}" for c in self.rgb)


def named_colors() -> list[NamedColor]:
    """The 17 colours of the paper's tables: 12 hues at S = V = 1, then 5 greys."""
    out = [NamedColor(n, (h, 1.0, 1.0), colorsys.hsv_to_rgb(h, 1.0, 1.0)) for n, h in HUES12.items()]
    out += [NamedColor(n, (0.0, 0.0, v), colorsys.hsv_to_rgb(0.0, 0.0, v)) for n, v in GRAYS5.items()]
    return out


# ---------------------------------------------------------------------------------------------
# Similarity to a concept colour


def hsv_similarity(
    c1: np.ndarray, c2: np.ndarray, *, hemi: bool = True, mode: str = "angular"
) -> np.ndarray:
    """Perceptual similarity of HSV colours (paper App. C.3), in [0, 1].

    Hue similarity is linear in angle ("angular") or the cosine ("cosine"); "hemi" makes it
    zero beyond 90 degrees. It is blended towards 1 for unsaturated colours (their hue is
    meaningless), then scaled by how close saturation and value are.
    """
    c1, c2 = np.asarray(c1, dtype=np.float64), np.asarray(c2, dtype=np.float64)
    dh = np.abs(c1[..., 0] - c2[..., 0])
    theta = 360.0 * np.minimum(dh, 1.0 - dh)
    if mode == "cosine":
        cos = np.cos(np.radians(theta))
        hue = np.maximum(0.0, cos) if hemi else 0.5 + 0.5 * cos
    elif mode == "angular":
        hue = np.maximum(0.0, (90.0 - theta) / 90.0) if hemi else (180.0 - theta) / 180.0
    else:
        raise ValueError(f"similarity mode {mode!r} is not 'angular' or 'cosine'")
    r = (c1[..., 1] * c1[..., 2] + c2[..., 1] * c2[..., 2]) / 2
    hue_eff = r * hue + (1 - r)
    return hue_eff * (1 - np.abs(c1[..., 1] - c2[..., 1])) * (1 - np.abs(c1[..., 2] - c2[..., 2]))


def concept_target(rgb: np.ndarray, against: str, power: float, anchor_hsv=(0.0, 1.0, 1.0),
                   mode: str = "angular") -> np.ndarray:
    """What the error should follow: similarity to the concept colour, or vibrancy, ^ power."""
    hsv = rgb_to_hsv(rgb)
    if against == "similarity":
        base = hsv_similarity(hsv, np.asarray(anchor_hsv, dtype=np.float64), hemi=True, mode=mode)
    elif against == "vibrancy":
        base = hsv[..., 1] * hsv[..., 2]
    else:
        raise ValueError(f"selectivity target {against!r} is not 'similarity' or 'vibrancy'")
    return base**power
