"""Tests of the validation metrics on synthetic estimators with known answers."""

import numpy as np
import pytest
from scipy import stats

from clustermass.exceptions import InvalidInputError
from clustermass.phasespace import PhaseSpaceGrid
from clustermass.posterior import default_log_mass_grid
from clustermass.validation import (
    DEFAULT_BINS,
    EvaluationResults,
    evaluate,
    evaluate_catalogue,
    fit_scatter_model,
    posterior_summaries,
    report_table,
    to_json_dict,
)


def gaussian_pdfs(mu, sigma, grid):
    return stats.norm.pdf(grid[None, :], mu[:, None], sigma[:, None])


def test_fit_scatter_model_recovers_inputs(rng):
    n = rng.integers(10, 400, 20000).astype(float)
    stat, sys_ = 0.05, 0.08
    res = rng.normal(0, np.sqrt(stat**2 * 100 / n + sys_**2))
    s, y = fit_scatter_model(res, n)
    assert s == pytest.approx(stat, rel=0.1)
    assert y == pytest.approx(sys_, rel=0.05)


def test_calibrated_posteriors_cover(rng):
    grid = default_log_mass_grid()
    n = 4000
    truth = rng.uniform(13.6, 15.2, n)
    sigma = rng.uniform(0.05, 0.2, n)
    # Posterior centred on a noisy measurement with the right width: calibrated.
    mu = truth + rng.normal(0, sigma)
    m = evaluate(truth, n_members=rng.integers(10, 300, n), pdfs=gaussian_pdfs(mu, sigma, grid),
                 log_mass_grid=grid)
    assert m["coverage_68"] == pytest.approx(0.6827, abs=0.025)
    assert m["coverage_95"] == pytest.approx(0.9545, abs=0.015)
    assert np.max(np.abs(np.array(m["pit_histogram"]) - 0.1)) < 0.025
    # Mean NLL of a calibrated Gaussian: E[0.5 ln(2 pi sigma^2) + 0.5 z^2].
    expected = np.mean(0.5 * np.log(2 * np.pi * sigma**2)) + 0.5
    assert m["mean_nll"] == pytest.approx(expected, abs=0.05)
    assert m["scatter"] == pytest.approx(np.sqrt(np.mean(sigma**2)), rel=0.05)


def test_overconfident_posteriors_undercover(rng):
    grid = default_log_mass_grid()
    truth = rng.uniform(13.6, 15.2, 2000)
    mu = truth + rng.normal(0, 0.15, truth.size)
    m = evaluate(truth, n_members=np.full(truth.size, 50), log_mass_grid=grid,
                 pdfs=gaussian_pdfs(mu, np.full(truth.size, 0.05), grid))
    assert m["coverage_68"] < 0.35
    # A U-shaped PIT histogram: the outer deciles hold the most.
    pit = np.array(m["pit_histogram"])
    assert pit[0] > 2 * pit[5] and pit[-1] > 2 * pit[4]


def test_summaries_match_scipy():
    grid = default_log_mass_grid()
    dist = stats.skewnorm(4, loc=14.0, scale=0.3)
    t = posterior_summaries(dist.pdf(grid)[None, :], grid, [14.2])
    assert t["mean"][0] == pytest.approx(dist.mean(), abs=1e-4)
    assert t["q84"][0] == pytest.approx(dist.ppf(0.84135), abs=1e-3)
    assert t["pit"][0] == pytest.approx(dist.cdf(14.2), abs=1e-4)
    assert t["nll"][0] == pytest.approx(-dist.logpdf(14.2), abs=1e-3)


def test_per_bin_scatter(rng):
    truth = np.concatenate([rng.uniform(13.5, 13.8, 3000), rng.uniform(14.8, 15.3, 3000)])
    err = np.where(truth < 14, 0.2, 0.05)
    m = evaluate(truth, n_members=np.full(truth.size, 100),
                 prediction=truth + rng.normal(0, err))
    bins = m["per_bin"]
    assert bins["scatter"][0] == pytest.approx(0.2, rel=0.05)
    assert bins["scatter"][-1] == pytest.approx(0.05, rel=0.05)
    assert m["scatter_logM_ge_14.8"] == pytest.approx(0.05, rel=0.05)
    assert "coverage_68" not in m


def test_per_bin_rms_counts_the_bias(rng):
    # A constant estimate has no scatter beyond the spread of the true masses in the
    # bin, but its rms error counts its offset: rms^2 = bias^2 + variance.
    truth = rng.uniform(14.8, 15.3, 4000)
    m = evaluate(truth, n_members=np.full(truth.size, 100), prediction=np.full(truth.size, 14.8))
    row = m["per_bin"][-1]
    assert row["scatter"] == pytest.approx(0.5 / np.sqrt(12), rel=0.05)
    assert row["bias"] == pytest.approx(-0.25, abs=0.01)
    assert row["rms"] ** 2 == pytest.approx(row["bias"] ** 2 + row["scatter"] ** 2, rel=1e-3)


def test_per_bin_nll_of_gaussian_posteriors(rng):
    from scipy import stats

    grid = np.linspace(12.5, 16.5, 2001)
    truth = rng.uniform(13.5, 15.3, 2000)
    mean = truth + rng.normal(0, 0.2, truth.size)
    pdfs = stats.norm.pdf(grid[None, :], mean[:, None], 0.2)
    m = evaluate(truth, n_members=np.full(truth.size, 100), pdfs=pdfs, log_mass_grid=grid)
    # E[-log N(x | mu, s)] = log(s sqrt(2 pi)) + 1/2 for calibrated Gaussians.
    expected = np.log(0.2 * np.sqrt(2 * np.pi)) + 0.5
    for row in m["per_bin"]:
        if row["n"] >= 300:
            assert row["mean_nll"] == pytest.approx(expected, abs=0.12)
    assert m["mean_nll"] == pytest.approx(expected, abs=0.05)


def test_bad_input():
    with pytest.raises(InvalidInputError, match="pdfs or point predictions"):
        evaluate(np.ones(100), n_members=np.ones(100))
    with pytest.raises(InvalidInputError, match="shape"):
        posterior_summaries(np.ones((3, 4)), np.arange(5.0))


class _GaussianFlow:
    """A stand-in for a flow: Gaussian posteriors centred on a richness-mass relation."""

    def __init__(self, grid, shift=0.0, width=0.25):
        self.grid, self.shift, self.width = grid, shift, width

    def pdf_grid(self, histograms, log_mass_grid):
        n = histograms.reshape(len(histograms), -1).sum(axis=1)
        mu = 13.0 + 0.6 * np.log10(np.maximum(n, 1)) + self.shift
        return stats.norm.pdf(log_mass_grid[None, :], mu[:, None], self.width)


@pytest.fixture(scope="module")
def small_test_mocks(tmp_path_factory):
    from clustermass import mocks

    path = tmp_path_factory.mktemp("mocks") / "test.h5"
    mocks.generate(path, kind="pure", split="test", n_clusters=300, seed=8, progress=False)
    return mocks.load(path)


def test_evaluate_catalogue_results(small_test_mocks):
    cat = small_test_mocks
    grid = PhaseSpaceGrid()
    a, b = _GaussianFlow(grid), _GaussianFlow(grid, shift=0.1, width=0.3)
    res = evaluate_catalogue({"a": a, "b": b, "ensemble": [a, b]}, cat, high_mass=14.3)
    assert isinstance(res, EvaluationResults)
    assert res.labels == ("a", "b", "ensemble", "msigma")
    np.testing.assert_array_equal(res.truth, cat.log_mass)
    hists = cat.histograms(grid)
    np.testing.assert_array_equal(res.n_members, hists.reshape(len(hists), -1).sum(axis=1))
    # The ensemble's posterior is the average of its members'.
    lm = default_log_mass_grid()
    pdfs = (a.pdf_grid(hists, lm) + b.pdf_grid(hists, lm)) / 2
    expected = evaluate(res.truth, n_members=res.n_members, pdfs=pdfs, log_mass_grid=lm,
                        high_mass=14.3)
    assert res.estimators["ensemble"]["mean_nll"] == pytest.approx(expected["mean_nll"])
    # Headline metrics under fixed names; the table and JSON the CLI prints.
    h = res.headline("a")
    assert h["scatter_high_mass"] == res.estimators["a"]["scatter_logM_ge_14.3"] > 0
    assert np.isnan(res.headline("msigma")["coverage_68"])
    t = report_table(res)
    assert list(t["estimator"]) == list(res.labels)
    assert t.colnames == ["estimator", "n_clusters", "bias", "scatter", "scatter_high_mass",
                          "sigma_stat", "sigma_sys", "coverage_68", "coverage_95", "mean_nll"]
    js = to_json_dict(res)
    assert js == res.to_json_dict() and list(js) == list(res.labels)
    assert "prediction" not in js["a"]
    assert len(js["a"]["per_bin"]) == len(DEFAULT_BINS) - 1


def test_ensemble_members_share_a_grid(small_test_mocks):
    a = _GaussianFlow(PhaseSpaceGrid())
    b = _GaussianFlow(PhaseSpaceGrid(n_r=25, n_v=25))
    with pytest.raises(InvalidInputError, match="share one phase-space grid"):
        evaluate_catalogue({"ensemble": [a, b]}, small_test_mocks)


class _RedshiftReadingFlow(_GaussianFlow):
    """A flow that conditions on the redshift: its mass rises with z, and it records
    the redshifts it is given."""

    conditions_on_redshift = True

    def __init__(self, grid):
        super().__init__(grid)
        self.seen = []

    def pdf_grid(self, histograms, log_mass_grid, *, redshift):
        z = np.asarray(redshift, float)
        assert z.shape == (len(histograms),)
        self.seen.append(z)
        return stats.norm.pdf(log_mass_grid[None, :], 13.5 + 4 * z[:, None], 0.2)


def test_evaluation_gives_each_cluster_its_redshift(tmp_path):
    from clustermass import mocks
    from clustermass.validation import thinning_shift

    path = tmp_path / "z.h5"
    mocks.generate(path, kind="pure", split="test", n_clusters=80, seed=9, progress=False,
                   redshift_range=(0.02, 0.3))
    cat = mocks.load(path)
    z = cat.redshift
    assert z.shape == (80,) and np.ptp(z) > 0.1  # every cluster its own redshift
    flow = _RedshiftReadingFlow(PhaseSpaceGrid())
    res = evaluate_catalogue({"z": flow}, cat, include_msigma=False)
    np.testing.assert_array_equal(flow.seen[0], z)
    lm = default_log_mass_grid()
    expected = evaluate(res.truth, n_members=res.n_members,
                        pdfs=flow.pdf_grid(cat.histograms(flow.grid), lm, redshift=z),
                        log_mass_grid=lm)
    assert res.estimators["z"]["mean_nll"] == pytest.approx(expected["mean_nll"])
    flow.seen.clear()
    out = thinning_shift(flow, cat, 0.5, n=50, seed=1, min_galaxies=1)
    n_kept = out["n_clusters"]
    assert [len(s) for s in flow.seen] == [n_kept, n_kept]
    np.testing.assert_array_equal(flow.seen[0], flow.seen[1])
    assert set(flow.seen[0]) <= set(z[:50])
    # The mass depends on z only: thinning does not move it.
    assert out["mean_abs_shift_sigma"] == pytest.approx(0.0, abs=1e-9)


def test_each_cluster_is_read_at_its_own_redshift(tmp_path):
    # A catalogue drawn across redshifts: the mass-function prior and M-sigma's E(z)
    # must use each cluster's redshift, not one value for the catalogue.
    from astropy.cosmology import Planck13

    from clustermass import mocks
    from clustermass.priors import reweight
    from clustermass.validation import msigma_point_estimates

    path = tmp_path / "z.h5"
    mocks.generate(path, kind="contaminated", split="test", n_clusters=60, seed=4,
                   progress=False, redshift_range=(0.02, 0.3))
    cat = mocks.load(path)
    z = cat.redshift
    flow = _GaussianFlow(PhaseSpaceGrid())
    lm = default_log_mass_grid()
    res = evaluate_catalogue({"g": flow}, cat, include_msigma=False, prior="mass_function")
    pdfs = flow.pdf_grid(cat.histograms(flow.grid), lm)
    expected = np.vstack([reweight(pdfs[i], lm, "mass_function", redshift=z[i])
                          for i in range(len(z))])
    want = evaluate(res.truth, n_members=res.n_members, pdfs=expected, log_mass_grid=lm)
    assert res.estimators["g"]["mean_nll"] == pytest.approx(want["mean_nll"], rel=1e-9)
    # M-sigma: M h = 1e15 (sigma / sigma_15)^(1/alpha) / E(z), cluster by cluster.
    grid = PhaseSpaceGrid()
    at_z, _ = msigma_point_estimates(cat, grid, redshift=z, cosmology=Planck13)
    at_01, _ = msigma_point_estimates(cat, grid, redshift=0.1, cosmology=Planck13)
    np.testing.assert_allclose(at_z - at_01,
                               np.log10(Planck13.efunc(0.1)) - np.log10(Planck13.efunc(z)),
                               atol=1e-12)
