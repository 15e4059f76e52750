"""Science checks of the mocks: Evrard et al. (2008), Mamon et al. (2010), fractions."""

import json

import numpy as np
import pytest

from clustermass.exceptions import InvalidInputError
from clustermass.mocks import fits as V
from clustermass.mocks import generate, load, report


@pytest.fixture(scope="module")
def train(tmp_path_factory):
    d = tmp_path_factory.mktemp("val")
    return {kind: load(generate(d / f"{kind}.h5", kind=kind, split="train", n_clusters=700,
                                seed=21, progress=False))
            for kind in ("pure", "contaminated")}


def test_pure_mocks_follow_evrard(train):
    cat = train["pure"]
    sigma = V.biweight_dispersions(cat)
    w = V.host_weights(cat)
    assert np.isclose(w.sum(), np.unique(cat.host_id).size)
    fit = V.fit_msigma(cat.log_mass, sigma, weights=w)
    assert 0.30 <= fit["slope"] <= 0.40
    assert abs(fit["normalisation_ratio"] - 1) < 0.10
    rich = cat.n_galaxies >= 20
    fit20 = V.fit_msigma(cat.log_mass[rich], sigma[rich], weights=w[rich])
    assert abs(fit20["slope"] - 0.3361) < 0.04
    assert abs(fit20["normalisation_ratio"] - 1) < 0.08


def test_stacked_interlopers_follow_mbm10_shape(train):
    stack = V.stack_interloper_density(train["contaminated"], log_mass_min=14.0)
    assert stack["n_clusters"] > 200
    comp = V.compare_mbm10(stack)
    # the Gaussian width, the constant and the X-dependence of the MBM10 form
    assert abs(comp["sigma_i"] - comp["sigma_i_mbm10"]) < 0.12
    assert 0.5 < comp["B"] / 0.0075 < 2.0
    assert comp["A_ratio_spread"] < 0.15
    assert comp["rms_log_residual"] < 0.35
    assert 0.7 < comp["scale"] < 2.0


def test_interloper_fractions_fall_with_mass(train):
    t = V.interloper_fractions(train["contaminated"])
    mean = np.asarray(t["mean"])
    assert np.all((mean > 0.1) & (mean < 0.9))
    assert mean[0] > mean[-1] + 0.2
    assert np.all((np.asarray(t["virial_cylinder"]) > 0.15)
                  & (np.asarray(t["virial_cylinder"]) < 0.45))
    # pure catalogues have no interlopers
    assert np.allclose(V.interloper_fractions(train["pure"])["mean"], 0.0)


def test_richness_recovered(train):
    fit = V.fit_richness(train["contaminated"])
    assert abs(fit["slope"] - 0.91) < 0.12
    assert abs(fit["N_15"] / 200.0 - 1) < 0.2


def test_compare_mbm10_needs_bins():
    empty = {"g": np.full((2, 2), np.nan), "g_err": np.ones((2, 2)), "x": np.array([0.1, 0.3]),
             "u": np.array([0.1, 0.3])}
    with pytest.raises(InvalidInputError, match="too few"):
        V.compare_mbm10(empty)
    with pytest.raises(InvalidInputError):
        V.fit_msigma([14.0], [500.0])


@pytest.mark.slow
def test_run_validation_writes_figures_and_summary(tmp_path):
    docs = tmp_path / "docs"
    summary = report.run_validation(tmp_path / "out", n_train=800, n_test=800, seed=3,
                               docs_dir=docs, progress=False)
    for name in report.FIGURES:
        assert (tmp_path / "out" / name).stat().st_size > 10_000
        assert (docs / name).exists()
    with open(tmp_path / "out" / "summary.json") as f:
        js = json.load(f)
    assert js["evrard"]["all"]["slope"] == pytest.approx(summary["evrard"]["all"]["slope"])
    assert 0.30 <= js["evrard"]["all"]["slope"] <= 0.40
    assert set(js["interloper_fraction"]) == {"train", "test"}
    # the catalogues are reused on a second run
    again = report.run_validation(tmp_path / "out", n_train=800, n_test=800, seed=3,
                             progress=False)
    assert again["mbm10"]["scale"] == pytest.approx(summary["mbm10"]["scale"])


@pytest.mark.slow
def test_cli_mock_validate(tmp_path, capsys):
    from clustermass.cli import main

    rc = main(["mock-validate", "--output", str(tmp_path), "--n-train", "400", "--n-test",
               "400", "--seed", "1"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "Evrard" in out and "MBM10" in out
    assert (tmp_path / "summary.json").exists()
