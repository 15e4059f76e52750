"""Tests of MassPosterior against analytic distributions."""

import pickle

import numpy as np
import pytest
from astropy import units as u
from scipy import stats

from clustermass.exceptions import InvalidInputError
from clustermass.posterior import MASS_UNIT, MassPosterior, default_log_mass_grid


@pytest.fixture
def gauss():
    return MassPosterior.from_normal(14.6, 0.12, method="test", meta={"cluster": "toy"})


def test_normal_summaries(gauss):
    assert gauss.mean == pytest.approx(14.6, abs=1e-6)
    assert gauss.median == pytest.approx(14.6, abs=1e-4)
    assert gauss.mode == pytest.approx(14.6, abs=0.005)
    assert gauss.std == pytest.approx(0.12, rel=1e-3)
    assert gauss.percentile([2.275, 97.725]) == pytest.approx([14.36, 14.84], abs=1e-3)
    lo, hi = gauss.interval(0.6827)
    assert (lo, hi) == pytest.approx((14.48, 14.72), abs=1e-3)


def test_skewed_distribution_quantiles():
    # A skew-normal: mean, median and quantiles differ and are known from scipy.
    x = default_log_mass_grid()
    dist = stats.skewnorm(5, loc=14.2, scale=0.2)
    post = MassPosterior(x, dist.pdf(x), method="skew")
    assert post.mean == pytest.approx(dist.mean(), abs=1e-4)
    assert post.std == pytest.approx(dist.std(), abs=1e-4)
    assert post.median == pytest.approx(dist.median(), abs=1e-3)
    assert post.percentile(90) == pytest.approx(dist.ppf(0.9), abs=1e-3)
    assert post.mean > post.median > post.mode


def test_pdf_normalised_and_zero_outside(gauss):
    x = gauss.log_mass_grid
    assert np.trapezoid(gauss.density, x) == pytest.approx(1.0)
    assert gauss.pdf(10.0) == 0.0
    assert gauss.pdf(14.6) == pytest.approx(stats.norm.pdf(0, scale=0.12), rel=1e-3)
    assert gauss.cdf(14.6) == pytest.approx(0.5, abs=1e-4)


def test_samples_follow_the_distribution(gauss):
    s = gauss.sample(20000, seed=3)
    assert s.mean() == pytest.approx(14.6, abs=0.005)
    assert s.std() == pytest.approx(0.12, abs=0.003)
    assert np.array_equal(s, gauss.sample(20000, seed=3))
    assert stats.kstest(s, stats.norm(14.6, 0.12).cdf).pvalue > 0.01


def test_from_samples_recovers_normal(rng):
    post = MassPosterior.from_samples(rng.normal(14.0, 0.2, 5000), method="s")
    assert post.mean == pytest.approx(14.0, abs=0.01)
    assert post.std == pytest.approx(0.2, rel=0.05)


def test_mass_quantities(gauss):
    assert gauss.mass.unit == MASS_UNIT
    assert u.isclose(gauss.mass, 10**14.6 * MASS_UNIT, rtol=1e-3)
    lo, hi = gauss.mass_interval()
    assert lo < gauss.mass < hi


def test_table_and_pickle(gauss):
    t = gauss.to_table()
    assert t.colnames == ["log10_m200c", "pdf", "cdf"]
    assert t.meta["cluster"] == "toy"
    assert t.meta["log10_m200c"] == pytest.approx(14.6, abs=1e-6)
    clone = pickle.loads(pickle.dumps(gauss))
    assert np.array_equal(clone.density, gauss.density)
    assert clone.meta == gauss.meta


def test_repr(gauss):
    assert repr(gauss) == "MassPosterior(method='test', mean=14.6, std=0.12)"


def test_plot(gauss):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ax = gauss.plot(reference=(14.5, 0.1))
    # The curve, two shaded bands, the mean line and the reference.
    assert len(ax.lines) == 3
    assert len(ax.collections) == 2
    plt.close("all")


@pytest.mark.parametrize(
    "x, p, match",
    [
        (np.linspace(13, 15, 10), np.ones(9), "shape"),
        (np.linspace(15, 13, 10), np.ones(10), "increasing"),
        (np.linspace(13, 15, 10), -np.ones(10), "non-negative"),
        (np.linspace(13, 15, 10), np.zeros(10), "integrates to zero"),
        (np.linspace(13, 15, 10), np.full(10, np.nan), "finite"),
    ],
)
def test_bad_input(x, p, match):
    with pytest.raises(InvalidInputError, match=match):
        MassPosterior(x, p, method="bad")


def test_bad_levels(gauss):
    with pytest.raises(InvalidInputError, match="level"):
        gauss.interval(1.5)
    with pytest.raises(InvalidInputError, match="quantiles"):
        gauss.percentile(120)


# -- masses in Msun ------------------------------------------------------------------
def test_summary_quantity_in_msun_with_h_stated(gauss):
    from astropy.cosmology import FlatLambdaCDM, Planck13

    s = gauss.summary_quantity()  # no h recorded: Planck13, the mocks' cosmology
    assert s["h"] == Planck13.h and s["cosmology"] == "Planck13"
    assert s["mass_definition"] == "200c" and s["method"] == "test"
    assert s["m200c"].unit == u.Msun
    assert u.isclose(s["m200c"], 10**gauss.median / Planck13.h * u.Msun)
    lo, hi = gauss.interval(0.6827)
    assert u.allclose([s["m200c_16"], s["m200c_84"]], 10 ** np.array([lo, hi]) / 0.6777 * u.Msun)
    assert s["m200c_2.5"] < s["m200c_16"] < s["m200c"] < s["m200c_84"] < s["m200c_97.5"]
    assert u.isclose(gauss.mass_msun, s["m200c"])
    # h recorded by ClusterMass.infer wins; a cosmology argument wins over both.
    post = MassPosterior.from_normal(14.6, 0.12, method="t", meta={"h": 0.7, "cosmology": "x"})
    assert u.isclose(post.mass_msun, 10**post.median / 0.7 * u.Msun)
    s70 = gauss.summary_quantity(cosmology=FlatLambdaCDM(H0=50, Om0=0.3))
    assert s70["h"] == 0.5 and u.isclose(s70["m200c"], 2 * 10**gauss.median * u.Msun)
    named = MassPosterior.from_normal(14.6, 0.12, method="t", meta={"cosmology": "Planck18"})
    assert named.hubble_h() == (0.6766, "Planck18")


def test_unknown_cosmology_name_is_a_clear_error(gauss):
    post = MassPosterior.from_normal(14.6, 0.12, method="t", meta={"cosmology": "MyCosmo"})
    with pytest.raises(InvalidInputError, match="cannot find the h of cosmology 'MyCosmo'"):
        post.summary_quantity()


# -- support edges -------------------------------------------------------------------
@pytest.mark.parametrize(
    "mean, std, support, expected",
    [
        (14.9, 0.1, None, False),            # grid ends 12.5 and 16.0, far away
        (14.9, 0.1, (13.2, 15.6), False),    # P(> 15.55) = 3e-11
        (15.35, 0.1, (13.2, 15.6), True),    # P(> 15.55) = 2.3 % > 1 %
        (15.25, 0.1, (13.2, 15.6), False),   # P(> 15.55) = 0.13 %
        (13.4, 0.1, (13.2, 15.6), True),     # P(< 13.25) = 6.7 %
        (12.6, 0.1, None, True),             # the grid end at 12.5
    ],
)
def test_at_support_edge_known_answers(mean, std, support, expected):
    x = default_log_mass_grid()  # 12.5 to 16.0
    post = MassPosterior(x, stats.norm.pdf(x, mean, std), method="t", meta={"support": support})
    lo, hi = post.support
    assert (lo, hi) == ((12.5, 16.0) if support is None else support)
    assert post.at_support_edge is expected
    # The definition: > 1 % of the probability within 0.05 dex of either end (the normal
    # is truncated to the grid).
    dist = stats.truncnorm((x[0] - mean) / std, (x[-1] - mean) / std, mean, std)
    tail = max(dist.cdf(lo + 0.05), dist.sf(hi - 0.05))
    assert bool(tail > 0.01) is expected


def test_support_must_be_a_pair(gauss):
    post = MassPosterior.from_normal(14.6, 0.12, method="t", meta={"support": 15.0})
    with pytest.raises(InvalidInputError, match=r'meta\["support"\] must be a \(lo, hi\) pair'):
        _ = post.at_support_edge
