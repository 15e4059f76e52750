"""Tests of the M-sigma baseline against the relation it inverts."""

import numpy as np
import pytest
from astropy import units as u
from astropy.cosmology import Planck13

from clustermass.baselines import EVRARD08, msigma, msigma_log_mass, velocity_dispersion
from clustermass.exceptions import InvalidInputError


def evrard_sigma(log_m_h, z):
    """sigma of a cluster of log10 M [h^-1 Msun] = log_m_h from Evrard et al. (2008) eq. 1."""
    hz = Planck13.H(z).to_value(u.km / u.s / u.Mpc) / 100
    m_msun = 10**log_m_h / Planck13.h
    return 1082.9 * (hz * m_msun / 1e15) ** 0.3361


@pytest.mark.parametrize("log_m", [14.0, 14.5, 15.1])
@pytest.mark.parametrize("z", [0.02, 0.18])
def test_inverse_of_evrard(log_m, z):
    sigma = evrard_sigma(log_m, z) * u.km / u.s
    assert msigma_log_mass(sigma, z, cosmology=Planck13) == pytest.approx(log_m, abs=1e-10)


def test_scatter_in_dex():
    assert EVRARD08.scatter_dex == pytest.approx(0.0426 / 0.3361 / np.log(10))


def test_recovers_mass_from_gaussian_velocities(rng):
    log_m, z, n = 14.8, 0.1, 400
    v = rng.normal(300, evrard_sigma(log_m, z), n) * u.km / u.s
    post = msigma(v, z, cosmology=Planck13, seed=1)
    # Statistical error of a dispersion ~ sigma / sqrt(2N), in mass / alpha.
    stat = 1 / np.sqrt(2 * n) / 0.3361 / np.log(10)
    assert post.median == pytest.approx(log_m, abs=3 * stat)
    expected_std = np.hypot(stat, EVRARD08.scatter_dex)
    assert post.std == pytest.approx(expected_std, rel=0.3)
    assert post.meta["n_galaxies"] == n
    assert post.method == "msigma"


def test_same_seed_same_posterior(rng):
    v = rng.normal(0, 800, 50)
    a = msigma(v, 0.05, seed=4)
    b = msigma(v, 0.05, seed=4)
    assert np.array_equal(a.density, b.density)


def test_biweight_resists_outliers(rng):
    v = np.concatenate([rng.normal(0, 700, 300), [20000.0, -15000.0]])
    assert velocity_dispersion(v).to_value(u.km / u.s) == pytest.approx(700, rel=0.1)


def test_bad_input():
    with pytest.raises(InvalidInputError, match="at least 3 galaxies"):
        msigma([100.0, 200.0], 0.1)
    with pytest.raises(InvalidInputError, match="NaN"):
        msigma([100.0, np.nan, 5.0, 7.0], 0.1)
    with pytest.raises(InvalidInputError, match="convertible to km / s"):
        msigma([1.0, 2.0, 3.0] * u.Mpc, 0.1)
    with pytest.raises(InvalidInputError, match="positive"):
        msigma_log_mass(-5 * u.km / u.s, 0.1)
