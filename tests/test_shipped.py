"""The shipped flows on the shipped real clusters (offline), against published masses."""

import json
import math
import warnings

import numpy as np
import pytest

from clustermass import ClusterMass, clusters
from clustermass.cli import main
from clustermass.exceptions import InvalidInputError
from clustermass.flow import MassFlow
from clustermass.phasespace import PhaseSpaceGrid
from clustermass.workflows import table1

pytest.importorskip("tensorflow_probability")


@pytest.fixture(scope="module")
def contaminated():
    return MassFlow.pretrained("contaminated")


def clusters_grid():
    # The grid of Kodi Ramanah et al. (2020): [0, 1.6] h^-1 Mpc x [-2200, 2200] km/s, 50 x 50.
    return PhaseSpaceGrid()


def _weigh(name, model, prior=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. more galaxies than any training cluster
        cm = ClusterMass.from_ned(name, offline=True)
        return cm.infer(model, prior=prior)


@pytest.mark.parametrize("kind", ["contaminated", "pure"])
def test_shipped_models_load(kind):
    flow = MassFlow.pretrained(kind)
    assert flow.trained and flow.name == kind
    assert flow.grid == clusters_grid()


@pytest.mark.parametrize("name", ["Coma", "A1689"])
def test_literature_masses_within_one_sigma(contaminated, name):
    # Lokas & Mamon (2003) for Coma, Lemze et al. (2009) for A1689 (Table 1 of
    # Kodi Ramanah et al. 2020): the default flow, prior and snapshot land within
    # 1 sigma (posterior std and literature error in quadrature).
    post = _weigh(name, contaminated)
    ref = clusters.get_cluster(name)
    combined = math.hypot(post.std, float(ref["log_m200c_lit_err"]))
    assert abs(post.mean - float(ref["log_m200c_lit"])) < combined
    assert 0.03 < post.std < 0.3
    assert post.meta["prior"] == "flat"
    assert post.meta["model"] == "contaminated"


def test_mass_function_prior_pulls_down(contaminated):
    flat = _weigh("Coma", contaminated, prior="flat")
    mf = _weigh("Coma", contaminated, prior="mass_function")
    assert flat.meta["prior"] == "flat" and mf.meta["prior"] == "mass_function"
    # The mass function falls steeply at 1e15 h^-1 Msun: the re-weighted
    # posterior moves to lower masses (by ~ std^2 * dln(n)/dlogM for a Gaussian).
    assert mf.mean < flat.mean - 0.01
    assert mf.median < flat.median
    x = mf.log_mass_grid
    assert np.isclose(np.trapezoid(mf.density, x), 1.0, atol=1e-3)


def test_unknown_prior(contaminated):
    with pytest.raises(InvalidInputError, match="prior must be one of"):
        _weigh("Coma", contaminated, prior="jeffreys")


@pytest.mark.filterwarnings("ignore::clustermass.exceptions.ModelExtrapolationWarning")
def test_cli_infer_coma_uses_the_shipped_flow(capsys):
    assert main(["-q", "infer", "Coma", "--offline", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["method"] == "flow:contaminated"
    assert result["prior"] == "flat"
    assert result["n_galaxies"] > 300
    lo, hi = result["log10_m200c_interval_68"]
    assert lo < result["log10_m200c_median"] < hi


def test_table1_offline():
    t = table1("contaminated", offline=True)
    assert len(t) == 8 and t.meta["prior"] == "flat"
    have = t["source"] != "needs NED"
    assert sorted(t["cluster"][have]) == ["A1689", "Coma"]
    assert np.all(np.isfinite(t["log_m_flow"][have]))
    assert np.all(np.isnan(t["log_m_flow"][~have]))
    # M-sigma under any of its names: no prior.
    ms = table1("M-sigma", offline=True)
    assert "prior" not in ms.meta and ms.meta["method"] == "M-sigma"
    assert np.all(np.isfinite(ms["log_m_flow"][have]))


def test_evaluate_models_labels_and_loads(contaminated, fresh_test_mocks):
    from clustermass.workflows import evaluate_models

    res = evaluate_models([contaminated], fresh_test_mocks, msigma=False)
    # Labelled by the model's name and configuration, as 'clustermass evaluate contaminated'.
    assert res.labels == ("contaminated (default)",)
    assert res.estimators["contaminated (default)"]["n_clusters"] == len(fresh_test_mocks)


def test_evaluate_at_equal_thinned_depth(contaminated, fresh_test_mocks):
    # 'clustermass evaluate --thin 0.5 1': every estimator sees the same thinned
    # galaxies, and a shallower survey carries less information about the mass.
    from clustermass.workflows import evaluate_models

    full = evaluate_models([contaminated], fresh_test_mocks)
    thin = evaluate_models([contaminated], fresh_test_mocks, thin=(0.5, 1.0), seed=2)
    ratio = thin.n_members.sum() / full.n_members.sum()
    assert 0.72 < ratio < 0.78
    label = "contaminated (default)"
    assert thin.headline(label)["mean_nll"] > full.headline(label)["mean_nll"]
    # M-sigma reads the same thinned clusters: its dispersions get noisier.
    assert thin.estimators["msigma"]["scatter"] > full.estimators["msigma"]["scatter"]


def _fresh_mocks(tmp_path_factory, kind, n_clusters, seed, **params):
    """Mass-function-distributed test clusters from hosts never used in training."""
    from clustermass import mocks

    path = tmp_path_factory.mktemp("mocks") / f"{kind}_test.h5"
    mocks.generate(path, kind=kind, split="test", n_clusters=n_clusters, seed=seed,
                   progress=False, **params)
    return mocks.load(path)


@pytest.fixture(scope="module")
def fresh_test_mocks(tmp_path_factory):
    # The nominal universe (every nuisance parameter at its central value).
    return _fresh_mocks(tmp_path_factory, "contaminated", 3000, seed=11)


@pytest.fixture(scope="module")
def fresh_robust_mocks(tmp_path_factory):
    # The shipped contaminated flow's own training population: nuisance
    # parameters (depth, interlopers, velocity bias, orbits, redshift) drawn per
    # cluster from the wide priors (`SyntheticUniverse.robust`).
    from clustermass.mocks import NUISANCE_PRESETS

    return _fresh_mocks(tmp_path_factory, "contaminated", 2000, seed=13,
                        **NUISANCE_PRESETS["robust"])


# The shipped contaminated flow marginalises over the nuisance parameters, so its
# intervals are honest across surveys but wider than a flow tuned to one universe
# needs on that universe: 68 % coverage 0.75 on both populations (3000 clusters,
# binomial error ~0.009). The bounds are the stress suite's (issue #10): 68 % in
# [0.60, 0.78], 95 % at least 0.90, |bias| <= 0.05.
@pytest.mark.parametrize("population", ["fresh_test_mocks", "fresh_robust_mocks"])
def test_shipped_flow_is_calibrated_on_fresh_mocks(contaminated, population, request):
    from clustermass.validation import evaluate_catalogue

    res = evaluate_catalogue({"flow": contaminated}, request.getfixturevalue(population))
    flow, msigma = res.estimators["flow"], res.estimators["msigma"]
    assert 0.60 <= flow["coverage_68"] <= 0.78, flow["coverage_68"]
    assert 0.90 <= flow["coverage_95"] <= 0.995, flow["coverage_95"]
    assert abs(flow["bias"]) < 0.05
    # Interlopers inflate the velocity dispersion of poor clusters: the flow,
    # which sees where they lie in phase space, beats M-sigma by a wide margin.
    assert flow["scatter"] < 0.7 * msigma["scatter"]


@pytest.mark.remote_data
def test_table1_online_weighs_all_eight():
    # Live NED: every cluster of Kodi Ramanah et al. (2020, Table 1) gets a flow mass.
    t = table1("contaminated")
    assert len(t) == 8
    assert list(t["source"]) == ["NED"] * 8
    assert np.all(t["n_galaxies"] >= 10)
    assert np.all(np.isfinite(t["log_m_flow"])) and np.all(t["log_m_flow_err"] > 0)
    # Values depend on NED's holdings; only a gross failure (a wrong centre, a
    # wrong redshift) would put a flow mass 0.5 dex from the literature's.
    assert np.all(np.abs(t["log_m_flow"] - t["log_m_lit"]) < 0.5)


def test_thinning_barely_moves_the_shipped_flow(contaminated, fresh_test_mocks):
    from clustermass.validation import thinning_shift

    same = thinning_shift(contaminated, fresh_test_mocks, 1.0, n=300)
    assert same["n_clusters"] == 300 and same["mean_abs_shift_sigma"] < 1e-5
    thinned = thinning_shift(contaminated, fresh_test_mocks, 0.5, n=1500, seed=1)
    # Trained across survey depths (galaxy counts x1/8-x8), the shipped flow
    # barely moves when half the galaxies go (issue #10's target for the real
    # fields: < 0.3 sigma at 50 %); the count-reading 'paper' flow moves ~1 sigma
    # already at 70 %.
    assert abs(thinned["mean_shift_sigma"]) < 0.3, thinned


@pytest.fixture(scope="module")
def fresh_pure_mocks(tmp_path_factory):
    return _fresh_mocks(tmp_path_factory, "pure", 2000, seed=12)


def test_shipped_pure_flow_on_fresh_mocks(fresh_pure_mocks):
    from clustermass.validation import evaluate_catalogue, thinning_shift

    pure = MassFlow.pretrained("pure")
    # as data/make_models.sh trains it: with the marginals, reading the redshift
    assert pure.config.marginals and pure.conditions_on_redshift
    res = evaluate_catalogue({"flow": pure}, fresh_pure_mocks)
    flow, msigma = res.estimators["flow"], res.estimators["msigma"]
    # Trained across the nuisance priors like the contaminated flow; on the nominal
    # universe ('clustermass stress pure --seed 0', 5000 clusters): coverage 0.622 /
    # 0.938, bias -0.000, scatter 0.141 against M-sigma's ~0.36. 2000 clusters give a
    # binomial error of ~0.01 on the 68 % coverage. Bounds: the stress suite's (#10).
    assert 0.60 <= flow["coverage_68"] <= 0.78, flow["coverage_68"]
    assert 0.90 <= flow["coverage_95"] <= 0.99, flow["coverage_95"]
    assert abs(flow["bias"]) < 0.05
    assert flow["scatter"] < 0.45 * msigma["scatter"]
    # Depth robust like the contaminated flow.
    thinned = thinning_shift(pure, fresh_pure_mocks, 0.5, n=1000, seed=1)
    assert abs(thinned["mean_shift_sigma"]) < 0.3, thinned
