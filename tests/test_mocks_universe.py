"""Tests of the synthetic universe: profiles, Jeans equation, mass function, richness."""

import numpy as np
import pytest
from scipy import integrate

from clustermass._colossus import colossus_cosmology
from clustermass.exceptions import InvalidInputError
from clustermass.mocks import SyntheticUniverse, mbm10_interloper_density
from clustermass.mocks import hosts as H
from clustermass.mocks import profiles as U


@pytest.fixture(scope="module")
def tables():
    return SyntheticUniverse().tables()


@pytest.mark.parametrize("beta", [0.0, 0.3, -0.5])
def test_jeans_singular_isothermal_sphere(beta):
    # nu ∝ r^-2 in G M = r: sigma_r^2 = 1 / (2 (1 - beta)) for constant beta
    r = np.logspace(-3, 6, 6001)
    s2 = U.jeans_sigma_r2(r, r**-2.0, r, beta)
    sel = (r > 1e-2) & (r < 1e2)
    assert np.allclose(s2[sel], 0.5 / (1 - beta), rtol=1e-4)


def _quad_sigma_r2(x, c, cg, xa):
    """Independent Jeans solution for the NFW / Mamon-Lokas case with scipy.quad."""
    def nu(s):
        return 1.0 / (cg * s * (1 + cg * s) ** 2)

    def integrand(s):
        return (s + xa) * nu(s) * U.nfw_enclosed_fraction(s, c) / s**2

    val = integrate.quad(integrand, x, np.inf, limit=400)[0]
    return val / ((x + xa) * nu(x))


@pytest.mark.parametrize("x", [0.05, 0.3, 1.0, 3.0])
def test_nfw_jeans_table_matches_quadrature(x):
    c = 5.0
    t = U.nfw_jeans_table([c], [x], tracer_ratio=0.6, anisotropy_radius=1.4)
    ref = _quad_sigma_r2(x, c, 0.6 * c, 1.4 / c)
    assert np.isclose(t[0, 0], ref, rtol=2e-3)


def _lokas_mamon_isotropic(s, c):
    """sigma_r^2 / v200^2 of an isotropic NFW halo (Lokas & Mamon 2001, MNRAS 321, 155, eq. 14)."""
    from scipy.special import spence

    cs = c * s
    g = 1 / (np.log1p(c) - c / (1 + c))
    li2 = spence(1 + cs)  # scipy's spence(z) = Li2(1 - z)
    return 0.5 * c**2 * g * s * (1 + cs) ** 2 * (
        np.pi**2 - np.log(cs) - 1 / cs - 1 / (1 + cs) ** 2 - 6 / (1 + cs)
        + (1 + 1 / cs**2 - 4 / cs - 2 / (1 + cs)) * np.log1p(cs)
        + 3 * np.log1p(cs) ** 2 + 6 * li2)


@pytest.mark.parametrize("c", [4.0, 10.0])
def test_isotropic_nfw_matches_lokas_mamon_analytic(c):
    s = np.logspace(-4, 4, 8001)
    nu = 1 / (c * s * (1 + c * s) ** 2)
    s2 = U.jeans_sigma_r2(s, nu, U.nfw_enclosed_fraction(s, c), 0.0)
    x = np.array([0.01, 0.1, 0.5, 1.0, 3.0])
    assert np.allclose(np.interp(x, s, s2), _lokas_mamon_isotropic(x, c), rtol=1e-4)


def test_interpolated_jeans_table(tables):
    c = np.array([3.0, 4.7, 9.0])
    x = np.array([0.02, 0.5, 2.5])
    exact = np.array([U.nfw_jeans_table([ci], [xi], tracer_ratio=0.6, anisotropy_radius=1.4)[0, 0]
                      for ci, xi in zip(c, x, strict=True)])
    assert np.allclose(tables.jeans_sigma2(c, x), exact, rtol=5e-3)


def test_nfw_inverse_cdf_roundtrip():
    p = np.linspace(0.01, 0.99, 9)
    x = U.nfw_inverse_cdf(p, 4.0)
    assert np.allclose(U.nfw_enclosed_fraction(x, 4.0), p)


def test_mean_radial_velocity_profile():
    v200 = 1000.0
    x = np.array([0.5, 1.0, 2.0, 4.5, 30.0])
    v = U.mean_radial_velocity(x, v200)
    assert v[0] == 0 and v[1] == 0          # virialised
    assert -0.6 * v200 < v[2] < -0.2 * v200  # infall
    assert abs(v[3]) < 1e-9                  # turnaround
    assert 0.8 * 0.1 * v200 * 30 < v[4] < 0.1 * v200 * 30  # towards the Hubble flow


def test_mbm10_density_normalisation():
    assert np.isclose(mbm10_interloper_density(0.0, 1e3), 0.0075)
    n = U.mbm10_interloper_number(1.0, 4.0)
    assert 0.2 < n < 0.6  # interlopers per virial member in the virial cone (MBM10: ~1/4)


def test_parameters_are_documented_and_overridable():
    uni = SyntheticUniverse()
    t = uni.describe()
    assert len(t) == len(SyntheticUniverse.parameter_names())
    assert all(len(d) > 10 for d in t["description"])
    uni2 = uni.replace(richness_15=300.0)
    assert uni2.richness_15 == 300.0 and uni.richness_15 == 200.0
    assert SyntheticUniverse.from_dict(uni2.to_dict()) == uni2
    assert hash(uni2) != hash(uni)


def test_defaults_are_the_mdpl2_universe():
    from clustermass.priors import MDPL2_UNIVERSE

    uni = SyntheticUniverse()
    for name in ("redshift", "cosmology", "mass_function", "sigma8", "ns"):
        assert getattr(uni, name) == getattr(MDPL2_UNIVERSE, name)


def test_parse_overrides():
    got = SyntheticUniverse.parse_overrides(["richness_15=250", "frame=comoving",
                                             "velocity_bias = 1.05"])
    assert got == {"richness_15": 250, "frame": "comoving", "velocity_bias": 1.05}
    assert SyntheticUniverse.parse_overrides(None) == {}
    with pytest.raises(InvalidInputError, match="unknown mock parameter 'richnes_15'.*describe"):
        SyntheticUniverse.parse_overrides(["richnes_15=3"])
    with pytest.raises(InvalidInputError, match="NAME=VALUE"):
        SyntheticUniverse.parse_overrides(["richness_15"])


def test_profiles_still_importable_from_universe():
    from clustermass.mocks import universe

    assert universe.nfw_jeans_table is U.nfw_jeans_table
    assert universe.richness is U.richness


@pytest.mark.parametrize("bad, match", [
    (dict(richness_15=-1.0), "richness_15"),
    (dict(log_mass_min=15.5, log_mass_max=15.0), "log_mass_min"),
    (dict(frame="proper"), "frame"),
    (dict(min_galaxies=0), "min_galaxies"),
    (dict(redshift=float("nan")), "redshift"),
    (dict(minor_axis_mean=1.5), "minor_axis_mean"),
])
def test_bad_parameters(bad, match):
    with pytest.raises(InvalidInputError, match=match):
        SyntheticUniverse(**bad)
    with pytest.raises(InvalidInputError, match="unknown"):
        SyntheticUniverse.from_dict({"not_a_parameter": 1})


def test_test_split_follows_the_mass_function(tables):
    from colossus.cosmology import cosmology
    from colossus.lss import mass_function

    rng = np.random.default_rng(2)
    lm = np.array([H.draw_host_mass(tables, rng, "test") for _ in range(20000)])
    # expectation from colossus directly (Tinker et al. 2008, 200c, the mocks' redshift)
    uni = tables.universe
    from astropy.cosmology import Planck13

    cosmo = colossus_cosmology(Planck13, sigma8=uni.sigma8, ns=uni.ns)
    cosmology.setCurrent(cosmo)
    grid = np.linspace(13.5, 15.3, 2001)
    dn = mass_function.massFunction(10**grid, uni.redshift, mdef="200c", model="tinker08",
                                    q_out="dndlnM")
    expected = np.trapezoid(grid * dn, grid) / np.trapezoid(dn, grid)
    assert abs(lm.mean() - expected) < 0.01
    assert lm.min() >= 13.5 and lm.max() <= 15.3
    # cumulative shape: the fraction above 14 matches
    frac = np.trapezoid(dn[grid >= 14], grid[grid >= 14]) / np.trapezoid(dn, grid)
    assert abs(np.mean(lm >= 14) - frac) < 0.01


def test_train_split_is_flat_in_log_mass(tables):
    rng = np.random.default_rng(3)
    lm = np.array([H.draw_host_mass(tables, rng, "train") for _ in range(20000)])
    nlos = np.array([H.n_lines_of_sight(tables, m, "train") for m in lm])
    counts, _ = np.histogram(lm, bins=np.linspace(13.5, 14.7, 7), weights=nlos)
    assert np.std(counts) / np.mean(counts) < 0.06
    # rare massive hosts get extra lines of sight (Ho et al. 2019)
    assert H.n_lines_of_sight(tables, 15.2, "train") > 10
    assert H.n_lines_of_sight(tables, 13.6, "train") == 1
    assert H.n_lines_of_sight(tables, 15.2, "test") == 1


def test_host_members_richness_and_velocities(tables):
    rng = np.random.default_rng(4)
    hosts = [H.realise_host(tables, 14.5, rng) for _ in range(60)]
    nv = np.array([h.n_virial for h in hosts])
    expected = tables.universe.mean_richness(10**14.5)
    assert abs(nv.mean() / expected - 1) < 0.12
    for h in hosts[:5]:
        r = np.linalg.norm(h.pos, axis=1)
        assert np.all(np.isfinite(h.vel))
        assert np.all(r[h.origin == H.ORIGIN_SATELLITE] < h.r200)
        assert np.all(r[h.origin == H.ORIGIN_INFALL] >= h.r200)
        assert np.sum(r < h.r200) == h.n_virial
    # velocity dispersion of members ~ 0.65 v200 (Jeans, NFW)
    vs = np.concatenate([h.vel[np.linalg.norm(h.pos, axis=1) < h.r200] / h.v200 for h in hosts])
    assert 0.55 < vs.std() < 0.8


def test_observe_host_cylinder(tables):
    rng = np.random.default_rng(5)
    h = H.realise_host(tables, 14.8, rng)
    R, v, member, origin = H.observe_host(tables, h, np.array([0.0, 0.0, 1.0]), rng)
    assert np.all(R < 1.6) and np.all(np.abs(v) < 2500)
    assert member.sum() > 10 and (~member).sum() > 0
    assert set(np.unique(origin[~member])) <= {H.ORIGIN_INFALL, H.ORIGIN_NEIGHBOUR,
                                               H.ORIGIN_FIELD, H.ORIGIN_SUBGROUP}
    # without the environment: only the host's own galaxies, the same members
    R2, v2, member2, origin2 = H.observe_host(tables, h, np.array([0.0, 0.0, 1.0]), rng,
                                              environment=False)
    assert member2.sum() == member.sum()
    assert np.array_equal(np.sort(v2[member2]), np.sort(v[member]))
    assert set(np.unique(origin2[~member2])) <= {H.ORIGIN_INFALL, H.ORIGIN_SUBGROUP}
