import numpy as np
import pytest
import skimage.color

from repro.method import colors as C


def test_hsv_conversions_match_scikit_image():
    rng = np.random.default_rng(0)
    rgb = rng.random((500, 3))
    rgb[:50] = rgb[:50, :1]  # greys
    rgb[50:60] = 0
    np.testing.assert_array_equal(C.rgb_to_hsv(rgb), skimage.color.rgb2hsv(rgb))
    hsv = rng.random((500, 3))
    np.testing.assert_array_equal(C.hsv_to_rgb(hsv), skimage.color.hsv2rgb(hsv))
    cube = C.rgb_cube(8)
    np.testing.assert_array_equal(C.rgb_to_hsv(cube), skimage.color.rgb2hsv(cube))


def test_hsv_cube_vectors():
    cube = C.hsv_cube(C.arange_cyclic(1 / 12), np.linspace(0, 1, 4), np.linspace(0, 1, 5))
    assert cube.shape == (12, 4, 5)
    np.testing.assert_allclose(cube.rgb[1, 1, 3], (0.75, 0.625, 0.5))
    np.testing.assert_allclose(cube.rgb[7, 2, 4], (1 / 3, 2 / 3, 1))
    np.testing.assert_allclose(cube.rgb[11, 3, 2], (0.5, 0, 0.25))


def test_validation_set_is_351_colours_with_red_at_347():
    v = C.cell_centres_with_corners(8)
    assert v.shape == (351, 3)
    np.testing.assert_allclose(v[:7, 2], [0.0625, 0.208333333, 0.354166667, 0.5, 0.645833333, 0.791666667, 0.9375])
    assert np.flatnonzero(C.redness(v) == 1).tolist() == [347]


@pytest.mark.parametrize("rgb, red, vib", [((1, 0, 0), 1, 1), ((1, 1, 0), .5, 1), ((1, .5, .5), .5, .5),
                                           ((1, 1, 1), 0, 0), ((.5, 0, 0), .5, .5), ((1, .5, 0), .75, 1)])
def test_attributes(rgb, red, vib):
    rgb = np.array(rgb, dtype=float)
    assert C.redness(rgb) == pytest.approx(red)
    assert C.vibrancy(rgb) == pytest.approx(vib)


def test_label_probability_sums_on_training_cube():
    cube = C.rgb_cube(8)
    assert (C.redness(cube) ** 8 * 0.08).sum() == pytest.approx(0.46033, abs=1e-5)
    assert ((C.redness(cube) ** 8 * 0.08) > 0).sum() == 441
    assert (C.vibrancy(cube) ** 10 * 0.01).sum() == pytest.approx(0.60899, abs=1e-5)


def test_named_colours():
    named = C.named_colors()
    assert len(named) == 17
    assert [c.hex for c in named] == ["FF0000", "FF7F00", "FFFF00", "7FFF00", "00FF00", "00FF7F", "00FFFF",
                                      "007FFF", "0000FF", "7F00FF", "FF00FF", "FF007F", "000000", "3F3F3F",
                                      "7F7F7F", "BFBFBF", "FFFFFF"]


RED = np.array([0.0, 1.0, 1.0])


@pytest.mark.parametrize("hsv, cos_hemi, cos_full, ang_hemi, ang_full", [
    ((30 / 360, 1, 1), .866025, .933013, .666667, .833333),
    ((60 / 360, 1, 1), .5, .75, .333333, .666667),
    ((90 / 360, 1, 1), 0, .5, 0, .5),
    ((0, .5, 1), .5, .5, .5, .5),
    ((0.3, 0, 0.7), 0, 0, 0, 0),
    ((30 / 360, .5, .5), .229066, .239533, .197917, .223958),
])
def test_similarity_vectors(hsv, cos_hemi, cos_full, ang_hemi, ang_full):
    hsv = np.array(hsv)
    got = [C.hsv_similarity(hsv, RED, hemi=h, mode=m) for m, h in
           (("cosine", True), ("cosine", False), ("angular", True), ("angular", False))]
    np.testing.assert_allclose(got, [cos_hemi, cos_full, ang_hemi, ang_full], atol=1e-6)


def test_similarity_properties():
    for c in C.named_colors():
        for mode in ("cosine", "angular"):
            for hemi in (True, False):
                assert C.hsv_similarity(np.array(c.hsv), np.array(c.hsv), hemi=hemi, mode=mode) == pytest.approx(1)
    assert C.hsv_similarity(np.array([0.5, 1, 1]), RED) == 0
    assert C.hsv_similarity(np.array([0, 0, 0.]), np.array([0, 0, 1.])) == 0
    assert C.hsv_similarity(np.array([0, 0, 0.]), np.array([0, 0, .25])) == pytest.approx(.75)
    sim2 = C.hsv_similarity(C.rgb_to_hsv(C.rgb_cube(8)), RED) ** 2
    assert sim2.sum() == pytest.approx(40.166875, abs=1e-5)
    assert (sim2 > 0).sum() == 483
    assert C.hsv_similarity(C.rgb_to_hsv(np.array([1, 3 / 7, 0])), RED) ** 2 == pytest.approx(0.5102041, abs=1e-7)
    vib = C.vibrancy(C.rgb_cube(8)) ** 2.3
    assert vib.mean() == pytest.approx(0.3473707, abs=1e-7)
