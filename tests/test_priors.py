"""Tests of the mass-function prior and the re-weighting of flow posteriors."""

import numpy as np
import pytest

from clustermass.exceptions import InvalidInputError
from clustermass.posterior import default_log_mass_grid
from clustermass.priors import (
    MDPL2_UNIVERSE,
    PRIORS,
    TrainingUniverse,
    catalogue_redshift_range,
    catalogue_support,
    check_support,
    mass_function_prior,
    reweight,
)


def test_prior_is_the_colossus_mass_function():
    from astropy.cosmology import Planck13
    from colossus.cosmology import cosmology as ccosmo
    from colossus.lss import mass_function as cmf

    uni = MDPL2_UNIVERSE
    cc = ccosmo.Cosmology(
        name="test-planck13", flat=True, Om0=Planck13.Om0, Ode0=Planck13.Ode0,
        Ob0=Planck13.Ob0, H0=Planck13.H0.value, sigma8=0.8288, ns=0.9611,
        Tcmb0=Planck13.Tcmb0.value, Neff=Planck13.Neff, persistence="",
        print_warnings=False)
    ccosmo.setCurrent(cc)
    lm = np.array([13.6, 14.2, 14.9])
    dn = cmf.massFunction(10**lm, uni.redshift, mdef="200c", model="tinker08", q_out="dndlnM")
    w = mass_function_prior(lm)
    np.testing.assert_allclose(w / w[0], dn / dn[0], rtol=2e-3)
    assert w.max() == 1.0
    assert (uni.redshift, uni.cosmology, uni.mass_function, uni.sigma8, uni.ns) == (
        0.117, "Planck13", "tinker08", 0.8288, 0.9611)


def test_the_universe_sets_the_prior():
    lm = np.linspace(13.5, 15.3, 50)
    default = mass_function_prior(lm)
    np.testing.assert_array_equal(mass_function_prior(lm, universe=MDPL2_UNIVERSE), default)
    np.testing.assert_array_equal(
        mass_function_prior(lm, redshift=MDPL2_UNIVERSE.redshift), default)
    # An explicit redshift overrides the universe's (the old call form).
    later = TrainingUniverse(redshift=0.5)
    np.testing.assert_array_equal(mass_function_prior(lm, universe=later),
                                  mass_function_prior(lm, redshift=0.5))
    assert mass_function_prior(lm, universe=later)[-1] < default[-1]  # fewer massive haloes
    # A lower sigma8 makes massive clusters rarer still.
    low_s8 = TrainingUniverse(redshift=MDPL2_UNIVERSE.redshift, sigma8=0.7)
    assert mass_function_prior(lm, universe=low_s8)[-1] < default[-1]
    x = default_log_mass_grid()
    pdf = np.exp(-0.5 * ((x - 14.6) / 0.1) ** 2)
    np.testing.assert_array_equal(reweight(pdf, x, "mass_function", universe=MDPL2_UNIVERSE),
                                  reweight(pdf, x, "mass_function"))


def test_bad_universe():
    with pytest.raises(InvalidInputError, match="TrainingUniverse"):
        mass_function_prior([14.0], universe={"redshift": 0.1})
    with pytest.raises(InvalidInputError, match="astropy realization"):
        mass_function_prior([14.0], universe=TrainingUniverse(redshift=0.1, cosmology="Nope13"))


def test_universe_from_catalogue_meta():
    meta = {"universe": {"redshift": 0.2, "sigma8": 0.81}}
    uni = TrainingUniverse.from_catalogue_meta(meta)
    assert uni == TrainingUniverse(redshift=0.2, sigma8=0.81)
    assert TrainingUniverse.from_catalogue_meta(None) == MDPL2_UNIVERSE


def test_prior_falls_faster_at_high_mass():
    lm = np.linspace(13.5, 15.5, 201)
    slope = np.gradient(np.log(mass_function_prior(lm)), lm)
    assert np.all(slope < 0)
    assert slope[-1] < 3 * slope[0]  # exponential cut-off above ~1e15


def test_reweighting_a_narrow_gaussian_shifts_it_by_sigma2_times_slope():
    # A Gaussian likelihood N(mu, s) times a prior exp(b x) locally is a
    # Gaussian of the same width, shifted by b s^2 (b: d ln n / d log M).
    x = default_log_mass_grid()
    mu, s = 14.6, 0.04
    pdf = np.exp(-0.5 * ((x - mu) / s) ** 2)
    out = reweight(pdf, x, "mass_function")
    b = np.gradient(np.log(mass_function_prior(x)), x)[np.argmin(abs(x - mu))]
    mean = np.trapezoid(out * x, x)
    std = np.sqrt(np.trapezoid(out * (x - mean) ** 2, x))
    assert mean - mu == pytest.approx(b * s**2, rel=0.05)
    assert std == pytest.approx(s, rel=0.02)
    assert np.trapezoid(out, x) == pytest.approx(1.0)


def test_flat_is_the_identity_and_batches_work():
    x = default_log_mass_grid()
    pdfs = np.exp(-0.5 * ((x[None, :] - np.array([[14.0], [15.0]])) / 0.2) ** 2)
    assert reweight(pdfs, x, "flat") is not None
    np.testing.assert_array_equal(reweight(pdfs, x, "flat"), pdfs)
    out = reweight(pdfs, x, "mass_function")
    assert out.shape == pdfs.shape
    np.testing.assert_allclose(np.trapezoid(out, x, axis=1), 1.0)
    assert set(PRIORS) == {"flat", "mass_function"}


def test_bad_prior_and_vanishing_posterior():
    x = default_log_mass_grid()
    with pytest.raises(InvalidInputError, match="prior must be one of"):
        reweight(np.ones_like(x), x, "uniform")
    with pytest.raises(InvalidInputError, match="vanishes"):
        reweight(np.zeros_like(x), x, "mass_function")


# ----------------------------------------------------------------------------
# The training support (issue #10, item 4)
# ----------------------------------------------------------------------------
SUPPORT = (13.2, 15.6)


def test_flat_prior_on_the_support_is_truncated_and_renormalised():
    x = default_log_mass_grid()
    pdf = np.exp(-0.5 * ((x - 15.5) / 0.2) ** 2)  # presses against the upper end
    out = reweight(pdf, x, "flat", support=SUPPORT)
    outside = (x < 13.2 - 1e-9) | (x > 15.6 + 1e-9)
    assert np.all(out[outside] == 0) and np.all(out[~outside] > 0)
    assert np.trapezoid(out, x) == pytest.approx(1.0, abs=1e-12)
    # Inside, the shape is unchanged: only the normalisation moves.
    ratio = out[~outside] / pdf[~outside]
    np.testing.assert_allclose(ratio, ratio[0], rtol=1e-12)
    assert ratio[0] == pytest.approx(1 / np.trapezoid(np.where(outside, 0, pdf), x), rel=1e-12)
    # Both ends of the support are grid points, and stay inside.
    assert out[np.argmin(abs(x - 15.6))] > 0 and out[np.argmin(abs(x - 13.2))] > 0


def test_mass_function_prior_weighs_inside_the_support_only():
    x = default_log_mass_grid()
    pdf = np.exp(-0.5 * ((x - 13.4) / 0.3) ** 2)  # most of the low tail below 13.2
    w = mass_function_prior(x, support=SUPPORT)
    inside = (x >= 13.2 - 1e-9) & (x <= 15.6 + 1e-9)
    assert np.all(w[~inside] == 0) and w[inside].max() == 1.0
    np.testing.assert_allclose(w[inside], mass_function_prior(x[inside]), rtol=1e-12)
    out = reweight(pdf, x, "mass_function", support=SUPPORT)
    expected = np.where(inside, pdf * mass_function_prior(x), 0)
    np.testing.assert_allclose(out, expected / np.trapezoid(expected, x), rtol=1e-10)
    # Without the support, the steep mass function below 13.2 drags the mean down.
    mean = np.trapezoid(out * x, x)
    untruncated = reweight(pdf, x, "mass_function")
    assert np.trapezoid(untruncated * x, x) < mean - 0.05


def test_support_errors_and_vanishing_posteriors():
    x = default_log_mass_grid()
    assert check_support(None) is None and check_support([13, 15]) == (13.0, 15.0)
    for bad in [(15.0, 14.0), (14.0,), "13-15", (np.nan, 15.0), (13.0, np.inf)]:
        with pytest.raises(InvalidInputError, match="support must be a"):
            reweight(np.ones_like(x), x, "flat", support=bad)
    # A posterior entirely outside the support vanishes.
    pdf = np.exp(-0.5 * ((x - 12.6) / 0.01) ** 2)  # exp(-1800) = 0 at 13.2
    with pytest.raises(InvalidInputError, match="vanishes"):
        reweight(pdf, x, "flat", support=SUPPORT)


def test_support_and_redshifts_from_catalogue_meta():
    uni = {"log_mass_min": 13.2, "log_mass_max": 15.6, "redshift": 0.117}
    assert catalogue_support({"universe": uni}) == (13.2, 15.6)
    assert catalogue_support({"universe": {"log_mass_min": 13.2}}) is None
    assert catalogue_support({"universe": {"log_mass_min": 15, "log_mass_max": 14}}) is None
    assert catalogue_support(None) is None
    assert catalogue_redshift_range({"universe": uni}) == (0.117, 0.117)
    assert catalogue_redshift_range({"redshift": 0.2}) == (0.2, 0.2)  # older catalogues
    light_cone = {"universe": {**uni, "redshift_min": 0.05, "redshift_max": 0.3}}
    assert catalogue_redshift_range(light_cone) == (0.05, 0.3)
    # Catalogues with a redshift prior (clustermass mock --set redshift_range=[lo,hi]).
    robust = {"universe": {**uni, "redshift": 0.155, "redshift_range": [0.01, 0.3]}}
    assert catalogue_redshift_range(robust) == (0.01, 0.3)
    fixed = {"universe": {**uni, "redshift_range": None}}  # the default: one redshift
    assert catalogue_redshift_range(fixed) == (0.117, 0.117)
    assert catalogue_redshift_range({}) is None
    assert catalogue_redshift_range({"universe": {"redshift_range": [0.3, 0.1]}}) is None
