"""Tests of the projection to phase space and of PhaseSpaceGrid."""

import json

import numpy as np
import pytest
from astropy import constants as const
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.cosmology import FlatLambdaCDM, Planck13
from astropy.cosmology import units as cu
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from clustermass.exceptions import InvalidInputError, UnitsAssumedWarning
from clustermass.phasespace import (
    R_UNIT,
    V_UNIT,
    PhaseSpaceGrid,
    angular_radius,
    line_of_sight_velocity,
    projected_radius,
    redshift_window,
)

finite = st.floats(min_value=-1e4, max_value=1e4, allow_nan=False)
radii = st.floats(min_value=0, max_value=3, allow_nan=False)


def test_los_velocity_formula():
    v = line_of_sight_velocity([0.1, 0.11], 0.1)
    expected = const.c.to(u.km / u.s) * 0.01 / 1.1
    assert u.allclose(v, [0, 1] * expected)


def test_los_velocity_small_z_limit():
    # At z_c = 0 the velocity is c z exactly.
    assert u.isclose(line_of_sight_velocity(0.001, 0.0), 299.792458 * u.km / u.s)


def test_projected_radius_matches_small_angle(rng):
    center = SkyCoord(150 * u.deg, 2 * u.deg)
    zc = 0.1
    sep = rng.uniform(0, 0.5, 20) * u.deg
    pa = rng.uniform(0, 360, 20) * u.deg
    coords = center.directional_offset_by(pa, sep)
    R = projected_radius(coords, center, zc, cosmology=Planck13)
    expected = sep.to_value(u.rad) * Planck13.angular_diameter_distance(zc) * Planck13.h
    assert R.unit == R_UNIT
    assert u.allclose(R, expected.value * R_UNIT, rtol=1e-8)


def test_projected_radius_other_cosmology():
    center = SkyCoord(10 * u.deg, 0 * u.deg)
    other = SkyCoord(10.5 * u.deg, 0 * u.deg)
    cosmo = FlatLambdaCDM(H0=100, Om0=0.3)
    R = projected_radius(other, center, 0.05, cosmology=cosmo)
    expected = np.deg2rad(0.5) * cosmo.angular_diameter_distance(0.05).to_value(u.Mpc)
    assert u.isclose(R, expected * R_UNIT)


def test_angular_radius_inverts_projected_radius():
    center = SkyCoord(10 * u.deg, 5 * u.deg)
    theta = angular_radius(1.6 * R_UNIT, 0.05, cosmology=Planck13)
    edge = center.directional_offset_by(0 * u.deg, theta)
    assert u.isclose(projected_radius(edge, center, 0.05, cosmology=Planck13), 1.6 * R_UNIT)


def test_redshift_window_round_trip():
    zmin, zmax = redshift_window(0.1, 2200 * V_UNIT)
    v = line_of_sight_velocity([zmin, zmax], 0.1)
    assert u.allclose(v, [-2200, 2200] * V_UNIT)


@pytest.mark.parametrize("z", [0.0, -0.5])
def test_projected_radius_needs_positive_redshift(z):
    c = SkyCoord(1 * u.deg, 1 * u.deg)
    with pytest.raises(InvalidInputError, match="must be positive"):
        projected_radius(c, c, z)


def test_nan_redshift_is_rejected():
    with pytest.raises(InvalidInputError, match="NaN"):
        line_of_sight_velocity([0.1, np.nan], 0.1)


def test_grid_defaults_are_the_paper():
    g = PhaseSpaceGrid()
    assert g.shape == (50, 50) and g.size == 2500
    assert u.isclose(g.r_max, 1.6 * R_UNIT) and u.isclose(g.v_max, 2200 * V_UNIT)
    assert repr(g) == (
        "PhaseSpaceGrid(r_max=<Quantity 1.6 Mpc / littleh>, "
        "v_max=<Quantity 2200. km / s>, n_r=50, n_v=50)"
    )


def test_grid_matches_numpy_histogram2d(rng):
    g = PhaseSpaceGrid(n_r=7, n_v=9)
    R = rng.uniform(0, 2, 500)
    v = rng.normal(0, 1500, 500)
    mine = g.histogram(R, v)
    ref, _, _ = np.histogram2d(R, v, bins=[g.r_edges.value, g.v_edges.value])
    # numpy puts values equal to the last edge in the last bin; ours excludes them.
    assert np.array_equal(mine, ref)


def test_grid_batch_equals_single(rng):
    g = PhaseSpaceGrid(n_r=5, n_v=6)
    idx = rng.integers(0, 4, 300)
    R = rng.uniform(0, 1.8, 300)
    v = rng.normal(0, 1200, 300)
    batch = g.histograms(idx, R, v, n_clusters=5)
    assert batch.shape == (5, 5, 6)
    for k in range(5):
        assert np.array_equal(batch[k], g.histogram(R[idx == k], v[idx == k]))
    assert batch[4].sum() == 0


def test_grid_units_are_converted():
    g = PhaseSpaceGrid()
    h_plain = g.histogram([0.5], [1000.0])
    h_q = g.histogram(500 * u.kpc / cu.littleh, 1e6 * u.m / u.s)
    assert np.array_equal(h_plain, h_q)


def test_grid_rejects_wrong_units():
    g = PhaseSpaceGrid()
    with pytest.raises(InvalidInputError, match="convertible to km / s"):
        g.histogram([0.5] * R_UNIT, [1.0] * u.Mpc)
    with pytest.raises(InvalidInputError, match=r"need h: give them in u.Mpc / cu.littleh"):
        g.histogram([0.5] * u.Mpc, [1.0] * V_UNIT)


def test_grid_rejects_nan_and_negative():
    g = PhaseSpaceGrid()
    with pytest.raises(InvalidInputError, match="NaN"):
        g.histogram([0.5, np.nan], [0.0, 0.0])
    with pytest.raises(InvalidInputError, match="non-negative"):
        g.histogram([-0.5], [0.0])


@pytest.mark.parametrize(
    "kwargs, match",
    [({"n_r": 0}, "positive integer"), ({"n_v": 2.5}, "positive integer"),
     ({"r_max": -1 * R_UNIT}, "must be positive")],
)
def test_grid_bad_parameters(kwargs, match):
    with pytest.raises(InvalidInputError, match=match):
        PhaseSpaceGrid(**kwargs)


def test_grid_wrong_unit_parameter():
    with pytest.raises(u.UnitsError):
        PhaseSpaceGrid(v_max=3 * u.Mpc)


def test_grid_save_and_compare(tmp_path):
    g = PhaseSpaceGrid(n_r=10, v_max=2500 * V_UNIT)
    path = tmp_path / "grid.json"
    g.write(path)
    assert PhaseSpaceGrid.read(path) == g
    assert PhaseSpaceGrid.read(path) != PhaseSpaceGrid()
    assert json.loads(path.read_text())["v_max"] == 2500
    path.write_text("{not json")
    with pytest.raises(InvalidInputError, match="not a PhaseSpaceGrid"):
        PhaseSpaceGrid.read(path)


@settings(max_examples=60, deadline=None)
@given(arrays(float, st.integers(0, 60), elements=radii), st.data())
def test_counts_conserved_inside_grid(R, data):
    v = data.draw(arrays(float, R.shape, elements=finite))
    g = PhaseSpaceGrid(n_r=8, n_v=10)
    hist = g.histogram(R, v)
    inside = (R < 1.6) & (v >= -2200) & (v < 2200)
    assert hist.sum() == inside.sum()
    assert np.array_equal(g.contains(R, v), inside)


@settings(max_examples=60, deadline=None)
@given(arrays(float, st.integers(1, 40), elements=radii), st.data())
def test_histogram_mirrors_under_v_flip(R, data):
    g = PhaseSpaceGrid(n_r=4, n_v=10)
    # Velocities strictly inside a bin: a value exactly on an edge goes to the upper bin,
    # which (correctly) breaks the mirror symmetry, so edges are kept out by construction.
    width = 2 * 2200 / 10
    bins = data.draw(arrays(np.int64, R.shape, elements=st.integers(0, 9)))
    frac = data.draw(arrays(float, R.shape, elements=st.floats(0.01, 0.99)))
    v = -2200 + (bins + frac) * width
    assert np.array_equal(g.histogram(R, -v), g.histogram(R, v)[:, ::-1])


@settings(max_examples=30, deadline=None)
@given(st.floats(0.01, 1.0), st.floats(-3000, 3000))
def test_velocity_round_trip(zc, v):
    zmin, zmax = redshift_window(zc, abs(v) * V_UNIT + 1 * V_UNIT)
    z = zc + v / 299792.458 * (1 + zc)
    assert zmin <= z <= zmax
    assert u.isclose(line_of_sight_velocity(z, zc), v * V_UNIT, atol=1e-6 * V_UNIT)


def test_angular_radius_takes_physical_lengths_with_the_cosmology_h():
    h_inv = angular_radius(1.6 * R_UNIT, 0.05, cosmology=Planck13)
    physical = angular_radius(1.6 / Planck13.h * u.Mpc, 0.05, cosmology=Planck13)
    assert u.isclose(physical, h_inv)
    cosmo = FlatLambdaCDM(H0=50, Om0=0.3)
    assert u.isclose(angular_radius(800 * u.kpc, 0.05, cosmology=cosmo),
                     angular_radius(0.4 * R_UNIT, 0.05, cosmology=cosmo))


def test_plain_numbers_for_lengths_and_speeds_warn():
    with pytest.warns(UnitsAssumedWarning, match="radius has no unit; taken to be in Mpc / littl"):
        theta = angular_radius(1.6, 0.05, cosmology=Planck13)
    assert u.isclose(theta, angular_radius(1.6 * R_UNIT, 0.05, cosmology=Planck13))
    with pytest.warns(UnitsAssumedWarning, match="v_max has no unit; taken to be in km / s"):
        window = redshift_window(0.1, 2200)
    assert window == redshift_window(0.1, 2200 * V_UNIT)


@pytest.mark.parametrize(
    "z, match",
    [("0.05", "must be a number, got str"), (True, "must be a number, got bool"),
     (0.05 * u.km / u.s, "convertible to redshift"), (25.0, "looks like a velocity")],
)
def test_bad_cluster_redshifts(z, match):
    c = SkyCoord(1 * u.deg, 1 * u.deg)
    with pytest.raises(InvalidInputError, match=match):
        projected_radius(c, c, z)
    with pytest.raises(InvalidInputError, match=match):
        angular_radius(1.6 * R_UNIT, z)


def test_redshift_quantity_and_string_galaxy_redshifts():
    assert u.isclose(line_of_sight_velocity(0.11 * cu.redshift, 0.1 * cu.redshift),
                     line_of_sight_velocity(0.11, 0.1))
    with pytest.raises(InvalidInputError, match="z must be numeric, got an array of dtype <U4"):
        line_of_sight_velocity(["0.11", "0.12"], 0.1)
