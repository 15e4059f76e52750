"""Tests of the conditional flows (`clustermass.flow`) and the training helpers.

Flows are trained on tiny grids with small networks so that each test takes a
few seconds on two CPU cores. The analytic check follows sbi's
``linearGaussian_snpe_test.py``: data that are a noisy linear function of the
parameter, so the exact posterior is a known Gaussian.
"""

import io
import json
import os
import subprocess
import sys
import types
import warnings

import numpy as np
import pytest

import clustermass
from clustermass.exceptions import (
    IncompatibleModelError,
    InvalidInputError,
    ModelError,
    ModelExtrapolationWarning,
)
from clustermass.flow import FlowConfig, MassFlow
from clustermass.flow.fit import (
    BatchSchedule,
    EarlyStopping,
    split_by_group,
    thin_histograms,
)
from clustermass.phasespace import PhaseSpaceGrid
from clustermass.priors import MDPL2_UNIVERSE
from clustermass.workflows import train_from_catalogue

GRID = PhaseSpaceGrid(n_r=5, n_v=6)


@pytest.fixture
def tf():
    """TensorFlow (via the flow module's lazy import); skips without TFP."""
    pytest.importorskip("tensorflow_probability")
    from clustermass.flow._network import tf_modules

    T = tf_modules()
    T.tf.random.set_seed(0)
    np.random.seed(0)
    return T


def small(name="default", **kw):
    """A preset shrunk for tests."""
    base = {"max_updates": 300, "eval_every": 25, "checkpoint_every": 50}
    if name == "paper":
        base.update(block_units=(16,))
    else:
        base.update(embedding_units=(16,), pool=1, patience=200)
    base.update(kw)
    return FlowConfig.preset(name, **base)


def count_data(n, rng, grid=GRID):
    """Poisson histograms whose galaxy number grows with mass (integer counts)."""
    log_m = rng.uniform(13.5, 15.0, n)
    rate = 0.3 * 10 ** (log_m - 13.5)
    shape = np.linspace(2.0, 0.5, grid.size)
    shape = shape / shape.mean()
    hists = rng.poisson(rate[:, None] * shape[None]).astype(np.float32)
    return hists.reshape(n, *grid.shape), log_m


def linear_gaussian(n, rng, noise=0.5, grid=GRID):
    """d = 8 + s * pattern, s = theta + noise * eps, log M = 14.5 + 0.3 theta, theta ~ N(0, 1).

    The posterior of theta given s is N(s / (1 + noise^2), noise^2 / (1 + noise^2)).
    """
    pattern = np.where(np.arange(grid.size) % 2 == 0, 1.0, -1.0)
    theta = rng.normal(size=n)
    s = theta + noise * rng.normal(size=n)
    hists = (8.0 + s[:, None] * pattern[None]).astype(np.float32)
    post_mean = 14.5 + 0.3 * s / (1 + noise**2)
    post_std = 0.3 * np.sqrt(noise**2 / (1 + noise**2))
    return hists.reshape(n, *grid.shape), 14.5 + 0.3 * theta, post_mean, post_std


@pytest.fixture(scope="module")
def trained():
    """A small default-config flow trained once for the inference/persistence tests."""
    pytest.importorskip("tensorflow_probability")
    rng = np.random.default_rng(7)
    hists, log_m = count_data(800, rng)
    flow = MassFlow(small("default", max_updates=150), grid=GRID)
    history = flow.fit(hists, log_m, groups=np.arange(800) // 2, seed=0, progress=False)
    return flow, hists, log_m, history


# ----------------------------------------------------------------------------
# No TensorFlow needed
# ----------------------------------------------------------------------------
def test_import_does_not_load_tensorflow():
    code = ("import sys, clustermass, clustermass.flow, clustermass.flow.fit; "
            "from clustermass.flow import MassFlow, FlowConfig; "
            "MassFlow; FlowConfig.preset('paper'); "
            "bad = [m for m in sys.modules if m.split('.')[0] in "
            "('tensorflow', 'tensorflow_probability', 'tf_keras', 'keras')]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_native_stderr_is_silenced(capfd, monkeypatch):
    import os
    import sys

    from clustermass.flow._network import native_stderr_silenced

    # As in a terminal: sys.stderr writes to file descriptor 2 (which capfd captures).
    monkeypatch.setattr(sys, "stderr", open(2, "w", closefd=False))  # noqa: SIM115
    with native_stderr_silenced():
        os.write(2, b"absl start-up noise\n")
    os.write(2, b"after\n")
    err = capfd.readouterr().err
    assert "absl start-up noise" not in err and "after" in err
    # Where sys.stderr is not descriptor 2 (pytest's capture, a Jupyter kernel),
    # what C++ code writes to descriptor 2 is silenced all the same.
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    with native_stderr_silenced():
        os.write(2, b"oneDNN notice\n")
    assert "oneDNN notice" not in capfd.readouterr().err


def test_presets():
    paper = FlowConfig.preset("paper")
    assert paper.blocks == ("affine",) * 3
    assert paper.block_units == (512, 64, 512)
    assert paper.embedding_units == ()
    assert paper.activation == "tanh"
    assert (paper.learning_rate, paper.beta_1, paper.beta_2) == (1e-4, 0.5, 0.999)
    assert (paper.batch_size, paper.max_updates, paper.patience) == (100, 2000, 200)
    assert paper.gaussian
    default = FlowConfig.preset("default")
    assert "spline" in default.blocks and not default.gaussian
    assert default.normalize == "fraction" and default.augment_thin == (0.85, 1.0)
    assert default.smooth == 2.0 and paper.smooth == 0.0
    assert default.pool == 2 and paper.pool == 1
    assert FlowConfig.from_dict(default.to_dict()) == default
    json.dumps(default.to_dict())


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"blocks": ("affine", "planar")}, "blocks must be"),
        ({"normalize": "sqrt"}, "normalize must be one of"),
        ({"standardize": "minmax"}, "standardize must be one of"),
        ({"activation": "softmax"}, "activation must be one of"),
        ({"augment_thin": (0.0, 1.0)}, "augment_thin must be a pair"),
        ({"embedding_units": (0,)}, "layer sizes must be positive"),
        ({"smooth": -1.0}, r"smooth must be in \[0, 10\] bins"),
        ({"pool": 0}, "pool must be a positive integer"),
        ({"marginals": "yes"}, "marginals must be true or false"),
        ({"lr_half_life": 0}, "lr_half_life must be a positive integer"),
        ({"nbins": 3}, r"unknown FlowConfig field\(s\) \['nbins'\]"),
    ],
)
def test_config_errors(kwargs, match):
    with pytest.raises(InvalidInputError, match=match):
        FlowConfig.preset("default", **kwargs)


def test_unknown_config_names():
    with pytest.raises(InvalidInputError, match="available: paper, default"):
        MassFlow("maf")
    with pytest.raises(InvalidInputError, match="config must be"):
        MassFlow(3)
    with pytest.raises(InvalidInputError, match="grid must be a PhaseSpaceGrid"):
        MassFlow("paper", grid=(50, 50))


def test_split_by_group_keeps_hosts_together():
    groups = np.repeat(np.arange(50), 3)
    train, val = split_by_group(groups, 0.2, seed=1)
    assert set(groups[train]).isdisjoint(groups[val])
    assert len(train) + len(val) == groups.size
    assert 0.18 <= len(val) / groups.size <= 0.25
    t2, v2 = split_by_group(groups, 0.2, seed=1)
    np.testing.assert_array_equal(val, v2)
    _, v3 = split_by_group(groups, 0.2, seed=2)
    assert not np.array_equal(val, v3)
    assert split_by_group(groups, 0.0)[1].size == 0
    with pytest.raises(InvalidInputError, match="single group"):
        split_by_group(np.zeros(10), 0.2)
    with pytest.raises(InvalidInputError, match=r"must be in \[0, 1\)"):
        split_by_group(groups, 1.0)


def test_thin_histograms_is_binomial():
    h = np.full((2000, 3), 10.0)
    t = thin_histograms(h, 0.7, rng=1)
    assert t.dtype == np.float32 and t.shape == h.shape
    assert np.all((t >= 0) & (t <= h) & (t == np.rint(t)))
    assert abs(t.mean() - 7.0) < 0.05
    assert abs(t.var() - 10 * 0.7 * 0.3) < 0.1
    np.testing.assert_array_equal(thin_histograms(h[:3], [1.0, 0.0, 1.0], rng=0)[1], 0)
    np.testing.assert_array_equal(thin_histograms(h[:3], [1.0, 0.0, 1.0], rng=0)[0], 10)
    np.testing.assert_array_equal(thin_histograms(h, 0.5, rng=3), thin_histograms(h, 0.5, rng=3))
    with pytest.raises(InvalidInputError, match="not counts"):
        thin_histograms(np.array([0.5, 1.0]), 0.5)
    with pytest.raises(InvalidInputError, match="one thinning probability per histogram"):
        thin_histograms(h[:3], [0.5, 0.5])
    with pytest.raises(InvalidInputError, match=r"lie in \[0, 1\]"):
        thin_histograms(h, 1.5)


def test_batch_schedule():
    s = BatchSchedule(10, 3, seed=4)
    assert s.updates_per_epoch == 3
    epoch0 = np.concatenate([s.indices(k) for k in range(3)])
    assert len(set(epoch0)) == 9  # no repeats within an epoch
    # The batch of an update depends only on (seed, update), not on the history.
    fresh = BatchSchedule(10, 3, seed=4)
    np.testing.assert_array_equal(fresh.indices(7), s.indices(7))
    np.testing.assert_array_equal(BatchSchedule(5, 100, seed=0).indices(0), np.arange(5))


def test_early_stopping_bookkeeping():
    es = EarlyStopping(patience=200)
    assert not es.should_stop(10_000)  # nothing recorded yet
    assert es.update(50, 2.0)
    assert es.update(100, 1.5)
    assert not es.update(150, 1.6)
    assert not es.should_stop(299) and es.should_stop(300)
    es2 = EarlyStopping.from_dict(json.loads(json.dumps(es.to_dict())))
    assert (es2.best_update, es2.best_loss, es2.patience) == (100, 1.5, 200)
    assert not EarlyStopping(None).should_stop(10**9)


# ----------------------------------------------------------------------------
# Architecture
# ----------------------------------------------------------------------------
def test_paper_flow_architecture(tf):
    flow = MassFlow("paper", grid=GRID)
    arch = flow.architecture()
    assert [b["kind"] for b in arch] == ["affine"] * 3
    for block in arch:
        assert block["hidden"] == [(512, "tanh"), (64, "tanh"), (512, "tanh")]
        assert block["outputs"] == {"shift": "linear", "scale": "exponential"}
    # The Keras model itself: three separate MLPs reading d, each ending in 2 outputs.
    network = flow._ensure_network()
    layers = {name: rest for name, *rest in network.layers()}
    assert len(layers) == 3 * 4 and {kind for kind, *_ in layers.values()} == {"Dense"}
    for b in range(3):
        hidden = [layers[f"block{b}_affine_hidden{i}"] for i in range(3)]
        assert [h[1] for h in hidden] == [512, 64, 512]
        assert [h[2] for h in hidden] == ["tanh"] * 3
        assert layers[f"block{b}_affine_params"][1] == 2
        assert hidden[0][3] == GRID.size
    # The TFP bijector chain: three affine blocks (shift o exp-scale), then the
    # fixed un-standardisation of log M.
    base, names = network.chain()
    assert names == ["Shift", "Scale"] * 4
    assert base == "Normal"


def test_default_flow_has_a_spline(tf):
    grid = PhaseSpaceGrid()  # the paper's 50 x 50 bins, read in 2 x 2 blocks
    flow = MassFlow("default", grid=grid)
    arch = flow.architecture()
    assert [b["kind"] for b in arch] == ["spline", "affine"]
    assert arch[0]["hidden"] == [(512, "tanh"), (64, "tanh")]
    network = flow._ensure_network()
    assert network.n_feat == 625 and network.layers()[0][-1] == 625
    assert "RationalQuadraticSpline" in network.chain()[1]


def test_input_smoothing_is_a_gaussian_filter(tf):
    from scipy import ndimage

    grid = PhaseSpaceGrid(n_r=12, n_v=9)
    flow = MassFlow(small("default", normalize="counts", smooth=1.5), grid=grid)
    counts = np.random.default_rng(0).poisson(2.0, (3, 12, 9)).astype(np.float32)
    got = flow._ensure_network().raw_features(counts.reshape(3, -1)).reshape(3, 12, 9)
    for g, c in zip(got, counts, strict=True):
        expected = ndimage.gaussian_filter(c.astype(float), 1.5, mode="constant", truncate=3.0)
        np.testing.assert_allclose(g, expected, rtol=1e-5, atol=1e-6)


def test_input_pooling_averages_blocks(tf):
    grid = PhaseSpaceGrid(n_r=6, n_v=4)
    flow = MassFlow(small("default", normalize="counts", smooth=0.0, pool=2), grid=grid)
    network = flow._ensure_network()
    assert network.n_feat == 6 and network.layers()[0][-1] == 6
    counts = np.random.default_rng(1).poisson(3.0, (2, 6, 4)).astype(np.float32)
    got = network.raw_features(counts.reshape(2, -1)).reshape(2, 3, 2)
    expected = counts.reshape(2, 3, 2, 2, 2).mean(axis=(2, 4))
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    with pytest.raises(InvalidInputError, match="does not divide"):
        MassFlow(small("default", pool=4), grid=grid)


def test_input_marginals_are_unsmoothed_profiles(tf):
    grid = PhaseSpaceGrid(n_r=6, n_v=4)
    flow = MassFlow(small("default", normalize="fraction", smooth=1.0, pool=2, marginals=True),
                    grid=grid)
    network = flow._ensure_network()
    assert network.n_feat == 6 + 6 + 4 and network.layers()[0][-1] == 16
    counts = np.random.default_rng(2).poisson(3.0, (2, 6, 4)).astype(np.float32)
    got = network.raw_features(counts.reshape(2, -1))
    frac = counts / counts.sum(axis=(1, 2), keepdims=True) * 24
    np.testing.assert_allclose(got[:, 6:12], frac.mean(axis=2), rtol=1e-5)
    np.testing.assert_allclose(got[:, 12:], frac.mean(axis=1), rtol=1e-5)
    # The fraction input does not see survey depth: doubling every count changes nothing.
    np.testing.assert_allclose(network.raw_features(2 * counts.reshape(2, -1)), got,
                               rtol=1e-5)

# ----------------------------------------------------------------------------
# Science: analytic posterior, non-Gaussian posteriors
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["paper", "default"])
def test_linear_gaussian_posterior_is_recovered(tf, name):
    rng = np.random.default_rng(11)
    hists, log_m, _, _ = linear_gaussian(3000, rng)
    config = small(name, normalize="counts", smooth=0.0, augment_thin=None,
                   learning_rate=3e-3, beta_1=0.9, batch_size=200, max_updates=600,
                   patience=None)
    flow = MassFlow(config, grid=GRID)
    flow.fit(hists, log_m, seed=0, progress=False)
    test_h, _, true_mean, true_std = linear_gaussian(300, np.random.default_rng(12))
    grid = np.linspace(13.0, 16.0, 601)
    pdf = flow.pdf_grid(test_h, grid)
    mean = np.trapezoid(pdf * grid, grid, axis=1)
    std = np.sqrt(np.trapezoid(pdf * (grid - mean[:, None]) ** 2, grid, axis=1))
    # Posterior std 0.134 dex; prior std 0.3 dex.
    assert np.sqrt(np.mean((mean - true_mean) ** 2)) < 0.03
    assert np.median(std) == pytest.approx(true_std, rel=0.06)
    posts = flow.posteriors(test_h[:3], log_mass_grid=grid)
    np.testing.assert_allclose([p.mean for p in posts], mean[:3], atol=1e-3)


def test_flow_conditioned_on_redshift_recovers_a_redshift_shift(tf, tmp_path):
    # The linear-Gaussian case with log M shifted by 0.5 (z - 0.15): given s and z the
    # posterior is N(post_mean + 0.5 (z - 0.15), post_std). Only a flow that reads z
    # can know the shift; one that marginalises over z is wider by the shift's spread.
    def data(n, seed):
        rng = np.random.default_rng(seed)
        hists, log_m, post_mean, post_std = linear_gaussian(n, rng)
        z = rng.uniform(0.01, 0.3, n)
        return hists, log_m + 0.5 * (z - 0.15), post_mean + 0.5 * (z - 0.15), post_std, z

    hists, log_m, _, _, z = data(3000, 11)
    config = small("default", normalize="counts", smooth=0.0, augment_thin=None,
                   learning_rate=3e-3, beta_1=0.9, batch_size=200, max_updates=600,
                   patience=None, lr_half_life=None, condition_redshift=True)
    flow = MassFlow(config, grid=GRID)
    assert flow.conditions_on_redshift
    with pytest.raises(InvalidInputError, match="conditions on the cluster redshift"):
        flow.fit(hists, log_m, seed=0, progress=False)
    flow.fit(hists, log_m, seed=0, progress=False, redshift=z)
    test_h, test_m, true_mean, true_std, test_z = data(300, 12)
    grid = np.linspace(13.0, 16.0, 601)
    pdf = flow.pdf_grid(test_h, grid, redshift=test_z)
    mean = np.trapezoid(pdf * grid, grid, axis=1)
    std = np.sqrt(np.trapezoid(pdf * (grid - mean[:, None]) ** 2, grid, axis=1))
    assert np.sqrt(np.mean((mean - true_mean) ** 2)) < 0.03
    assert np.median(std) == pytest.approx(true_std, rel=0.08)
    # The same histogram at another redshift moves by the known 0.5 dz.
    lo, hi = (np.trapezoid(flow.pdf_grid(test_h[:50], grid, redshift=zz) * grid, grid, axis=1)
              for zz in (0.05, 0.25))
    assert np.mean(hi - lo) == pytest.approx(0.1, abs=0.02)
    # Every reader needs the redshift: one value, or one per cluster.
    for call in (lambda: flow.pdf_grid(test_h, grid), lambda: flow.posteriors(test_h[:2]),
                 lambda: flow.log_prob(14.5, test_h[:2]),
                 lambda: flow.sample(test_h[:2], 5, seed=0)):
        with pytest.raises(InvalidInputError, match="pass redshift="):
            call()
    with pytest.raises(InvalidInputError, match="one per cluster"):
        flow.pdf_grid(test_h[:3], grid, redshift=[0.1, 0.2])
    with pytest.raises(InvalidInputError, match="finite and positive"):
        flow.pdf_grid(test_h[:2], grid, redshift=[0.1, np.nan])
    posts = flow.posteriors(test_h[:3], log_mass_grid=grid, redshift=test_z[:3])
    np.testing.assert_allclose([p.mean for p in posts], mean[:3], atol=1e-3)
    assert flow.sample(test_h[:2], 4, seed=1, redshift=0.1).shape == (2, 4)
    # Saved and loaded, it still reads the redshift and gives the same densities.
    flow.save(tmp_path / "zflow")
    again = MassFlow.load(tmp_path / "zflow")
    assert again.conditions_on_redshift and again.config.condition_redshift
    np.testing.assert_allclose(again.pdf_grid(test_h[:5], grid, redshift=test_z[:5]),
                               pdf[:5], rtol=1e-5, atol=1e-8)


def bimodal(n, rng, grid=GRID):
    """s = theta^2 + noise: the posterior of theta has modes at +-sqrt(s)."""
    pattern = np.where(np.arange(grid.size) % 2 == 0, 1.0, -1.0)
    theta = rng.normal(size=n)
    s = theta**2 + 0.1 * rng.normal(size=n)
    hists = (30.0 + s[:, None] * pattern[None]).astype(np.float32)
    return hists.reshape(n, *grid.shape), 14.5 + 0.3 * theta


def test_default_beats_paper_on_bimodal_posteriors(tf):
    rng = np.random.default_rng(5)
    hists, log_m = bimodal(3000, rng)
    test_h, test_m = bimodal(1000, np.random.default_rng(6))
    nll = {}
    for name in ("paper", "default"):
        config = small(name, normalize="counts", smooth=0.0, augment_thin=None,
                       learning_rate=3e-3, beta_1=0.9, batch_size=200, max_updates=800,
                       patience=None)
        if name == "default":
            config = config.replace(embedding_units=(32, 32))
        flow = MassFlow(config, grid=GRID)
        flow.fit(hists, log_m, seed=0, progress=False)
        nll[name] = -np.mean(flow.log_prob(test_m, test_h))
    # A Gaussian cannot have two modes; the spline flow can.
    assert nll["default"] < nll["paper"] - 0.2, nll


def test_paper_flow_is_gaussian_in_log_mass(tf):
    rng = np.random.default_rng(3)
    hists, log_m = count_data(300, rng)
    flow = MassFlow(small("paper", max_updates=40), grid=GRID)
    flow.fit(hists, log_m, seed=0, progress=False)
    x = np.linspace(13.0, 16.0, 31)
    lp = flow.log_prob(x, hists[0])
    # log N(x; mu, sigma) is a parabola: constant, negative second differences.
    d2 = np.diff(lp, 2)
    np.testing.assert_allclose(d2, d2[0], rtol=1e-3, atol=1e-4)
    assert d2[0] < 0


def dynamical_toy(n, rng, grid):
    """Galaxy counts and velocity dispersion both grow with mass, plus field interlopers."""
    log_m = rng.uniform(14.0, 15.0, n)
    n_gal = rng.poisson(40 * 10 ** (log_m - 14.0))
    sigma = 500 * 10 ** ((log_m - 14.0) / 3)
    idx = np.repeat(np.arange(n), n_gal)
    R = rng.gamma(2.0, 0.3, idx.size)
    v = rng.normal(0, sigma[idx])
    n_bg = rng.poisson(10, n)
    idx_bg = np.repeat(np.arange(n), n_bg)
    R = np.concatenate([R, 1.6 * np.sqrt(rng.uniform(size=idx_bg.size))])
    v = np.concatenate([v, rng.uniform(-2200, 2200, idx_bg.size)])
    hists = grid.histograms(np.concatenate([idx, idx_bg]), R, v, n_clusters=n)
    return hists, log_m


def test_thinning_moves_default_posteriors_less_than_half_sigma(tf):
    """Losing 30% of the galaxies must not shift the mean by > 0.5 sigma (depth robustness)."""
    grid = PhaseSpaceGrid(n_r=8, n_v=10)
    hists, log_m = dynamical_toy(4000, np.random.default_rng(1), grid)
    test, _ = dynamical_toy(400, np.random.default_rng(2), grid)
    thinned = thin_histograms(test, 0.7, rng=3)
    x = np.linspace(13.0, 16.0, 301)
    shift = {}
    for name in ("paper", "default"):
        config = small(name, learning_rate=2e-3, beta_1=0.9, max_updates=600, patience=None,
                       eval_every=100)
        if name == "default":
            config = config.replace(smooth=1.0, embedding_units=(32,))
        flow = MassFlow(config, grid=grid)
        flow.fit(hists, log_m, seed=0, progress=False)
        p, pt = flow.pdf_grid(test, x), flow.pdf_grid(thinned, x)
        mu, mu_t = np.trapezoid(p * x, x, axis=1), np.trapezoid(pt * x, x, axis=1)
        sd = np.sqrt(np.trapezoid(p * (x - mu[:, None]) ** 2, x, axis=1))
        shift[name] = np.mean((mu_t - mu) / sd)
    # Counts-based (paper) masses drop with the number of galaxies; the default's do not.
    assert abs(shift["default"]) < 0.5, shift
    assert shift["paper"] < -0.5, shift


def test_fraction_input_ignores_survey_depth(trained):
    flow, hists, _, _ = trained
    assert flow.config.normalize == "fraction"
    x = np.linspace(13.5, 15.0, 7)
    # Doubling every galaxy count leaves fractions, hence the posterior, unchanged.
    np.testing.assert_allclose(flow.log_prob(x, hists[3]), flow.log_prob(x, 2 * hists[3]),
                               rtol=1e-5, atol=1e-5)


# ----------------------------------------------------------------------------
# Training mechanics
# ----------------------------------------------------------------------------
def test_same_seed_same_model(tf):
    rng = np.random.default_rng(2)
    hists, log_m = count_data(400, rng)
    groups = np.arange(400) // 4
    config = small("default", max_updates=60, eval_every=20)
    runs = [MassFlow(config, grid=GRID).fit(hists, log_m, groups=groups, seed=s,
                                            progress=False) for s in (1, 1, 2)]
    assert runs[0]["val_loss"] == runs[1]["val_loss"]
    assert runs[0]["val_loss"] != runs[2]["val_loss"]
    assert runs[0]["update"] == [20, 40, 60]
    assert runs[0]["n_train"] + runs[0]["n_val"] == 400


def test_learning_rate_halves_every_half_life(tf):
    hists, log_m = count_data(200, np.random.default_rng(4))
    flow = MassFlow(small("default", max_updates=40, lr_half_life=20, learning_rate=1e-3),
                    grid=GRID)
    flow.fit(hists, log_m, seed=0, progress=False)
    opt = flow._ensure_network().optimizer_state()
    assert opt["iterations"] == 40
    # 1e-3 x 0.5^(40 / 20) after 40 updates (tf-keras reads the rate of the last
    # step taken, 0.5^(39 / 20) = 0.259: within 4 %).
    assert opt["learning_rate"] == pytest.approx(2.5e-4, rel=0.04)
    constant = MassFlow(small("default", max_updates=40, learning_rate=1e-3,
                                lr_half_life=None), grid=GRID)
    constant.fit(hists, log_m, seed=0, progress=False)
    assert constant._ensure_network().optimizer_state()["learning_rate"] == pytest.approx(1e-3)


def test_early_stopping_restores_best_weights(tf):
    rng = np.random.default_rng(4)
    hists, log_m = count_data(300, rng)
    # A large learning rate and no signal in a tiny validation set: overfits quickly.
    config = small("default", learning_rate=3e-2, beta_1=0.9, max_updates=400, eval_every=10,
                   patience=50)
    flow = MassFlow(config, grid=GRID)
    h = flow.fit(hists, log_m, seed=0, progress=False, validation_fraction=0.3)
    assert h["stopped_early"] and h["n_updates"] < 400
    assert h["n_updates"] - h["best_update"] == 50
    assert h["best_val_loss"] == min(h["val_loss"])
    val = split_by_group(np.arange(300), 0.3, 0)[1]
    assert -np.mean(flow.log_prob(log_m[val], hists[val])) == pytest.approx(
        h["best_val_loss"], rel=1e-4)


@pytest.mark.parametrize("half_life", [None, 15])
def test_resume_from_checkpoint(tf, tmp_path, half_life):
    rng = np.random.default_rng(8)
    hists, log_m = count_data(400, rng)
    config = small("default", max_updates=60, eval_every=10, checkpoint_every=20,
                   patience=None, lr_half_life=half_life)
    reference = MassFlow(config, grid=GRID).fit(hists, log_m, seed=0, progress=False)

    class Interrupt(Exception):
        pass

    def stop_at_50(update, metrics):
        if update == 50:
            raise Interrupt

    ckdir = tmp_path / "ckpt"
    with pytest.raises(Interrupt):
        MassFlow(config, grid=GRID).fit(hists, log_m, seed=0, checkpoint_dir=ckdir,
                                        progress=stop_at_50)
    assert json.loads((ckdir / "state.json").read_text())["update"] == 40
    flow = MassFlow(config, grid=GRID)
    resumed = flow.fit(hists, log_m, seed=0, checkpoint_dir=ckdir, progress=False)
    assert resumed["resumed_from"] == 40
    assert resumed["n_updates"] == 60
    assert resumed["update"] == reference["update"]
    # Same batches, same optimizer state: exactly the uninterrupted run.
    assert resumed["val_loss"] == reference["val_loss"]
    # Asking for more updates continues the count from there.
    more = MassFlow(config, grid=GRID).fit(hists, log_m, seed=0, checkpoint_dir=ckdir,
                                           max_updates=80, progress=False)
    assert more["resumed_from"] == 60 and more["n_updates"] == 80
    assert more["update"][-2:] == [70, 80]
    # A different run must not pick these checkpoints up.
    with pytest.raises(ModelError, match="different training run"):
        MassFlow(config, grid=GRID).fit(hists, log_m, seed=1, checkpoint_dir=ckdir,
                                        progress=False)


def test_fit_input_errors(tf):
    flow = MassFlow(small("default"), grid=GRID)
    hists, log_m = count_data(50, np.random.default_rng(0))
    with pytest.raises(InvalidInputError, match=r"must have shape \(n, 5, 6\) or \(n, 30\)"):
        flow.fit(np.ones((50, 6, 5)), log_m)
    with pytest.raises(InvalidInputError, match="one value per histogram"):
        flow.fit(hists, log_m[:-1])
    with pytest.raises(InvalidInputError, match="NaN"):
        flow.fit(np.where(hists > 3, np.nan, hists), log_m)
    with pytest.raises(InvalidInputError, match="non-negative"):
        flow.fit(-hists - 1, log_m)
    with pytest.raises(InvalidInputError, match="integer galaxy counts"):
        flow.fit(hists + 0.5, log_m)
    with pytest.raises(ModelError, match="has not been trained"):
        flow.log_prob(14.0, hists[0])


def test_progress_bar_honours_config(tf, capsys):
    hists, log_m = count_data(200, np.random.default_rng(0))
    flow = MassFlow(small("default", max_updates=10, eval_every=5), grid=GRID)
    with clustermass.conf.set_temp("show_progress", True):
        flow.fit(hists, log_m, seed=0)
    assert "training flow" in capsys.readouterr().err
    flow.fit(hists, log_m, seed=0)  # conftest turns progress off
    assert "training flow" not in capsys.readouterr().err


# ----------------------------------------------------------------------------
# Inference
# ----------------------------------------------------------------------------
def test_pdf_grid_rows_integrate_to_one(trained):
    flow, hists, _, _ = trained
    from clustermass.posterior import default_log_mass_grid

    grid = default_log_mass_grid()
    pdf = flow.pdf_grid(hists[:50])
    assert pdf.shape == (50, grid.size)
    np.testing.assert_allclose(np.trapezoid(pdf, grid, axis=1), 1.0, atol=2e-3)
    # Consistent with log_prob.
    np.testing.assert_allclose(np.log(pdf[:, 300]), flow.log_prob(grid[300], hists[:50]),
                               rtol=1e-5)
    one = flow.pdf_grid(hists[7])
    np.testing.assert_allclose(one[0], pdf[7], rtol=1e-5)


def test_log_prob_shapes(trained):
    flow, hists, log_m, _ = trained
    assert flow.log_prob(log_m[:10], hists[:10]).shape == (10,)
    assert flow.log_prob(14.0, hists[:10]).shape == (10,)
    assert flow.log_prob(np.full((2, 3), 14.0), hists[0]).shape == (2, 3)
    flat = hists[:10].reshape(10, -1)
    np.testing.assert_array_equal(flow.log_prob(log_m[:10], flat),
                                  flow.log_prob(log_m[:10], hists[:10]))
    with pytest.raises(InvalidInputError, match="one value per histogram"):
        flow.log_prob(log_m[:3], hists[:10])


def test_sample(trained):
    flow, hists, _, _ = trained
    s = flow.sample(hists[:2], 4000, seed=3)
    assert s.shape == (2, 4000)
    np.testing.assert_array_equal(s, flow.sample(hists[:2], 4000, seed=3))
    assert not np.array_equal(s, flow.sample(hists[:2], 4000, seed=4))
    post = flow.posterior(hists[0])
    assert s[0].mean() == pytest.approx(post.mean, abs=0.02)
    assert s[0].std() == pytest.approx(post.std, rel=0.1)
    assert flow.sample(hists[0], 5, seed=1).shape == (5,)


def test_posteriors(trained):
    from clustermass.posterior import MassPosterior

    flow, hists, log_m, _ = trained
    posts = flow.posteriors(hists[:4])
    assert len(posts) == 4 and all(isinstance(p, MassPosterior) for p in posts)
    assert posts[0].method == "flow:default"
    assert posts[0].meta["model"] == "default"
    single = flow.posterior(hists[0])
    assert single.mean == pytest.approx(posts[0].mean)
    with pytest.raises(InvalidInputError, match="takes one histogram"):
        flow.posterior(hists[:2])
    many = hists[0] * 0 + 60.0  # far more galaxies than any training cluster
    with pytest.warns(ModelExtrapolationWarning, match="outside the training range"):
        flow.posterior(many)


def test_repr(trained):
    flow = trained[0]
    assert repr(flow) == (
        "MassFlow(config='default', grid=PhaseSpaceGrid(r_max=<Quantity 1.6 Mpc / littleh>, "
        "v_max=<Quantity 2200. km / s>, n_r=5, n_v=6), trained=True)"
    )
    assert flow.grid == GRID and flow.config.name == "default"
    assert flow.meta["n_updates"] == trained[3]["n_updates"]


# ----------------------------------------------------------------------------
# Persistence
# ----------------------------------------------------------------------------
def test_save_load_round_trip(trained, tmp_path):
    flow, hists, log_m, _ = trained
    path = tmp_path / "model"
    flow.save(path)
    assert sorted(os.listdir(path)) == ["model.json", "weights.npz"]
    doc = json.loads((path / "model.json").read_text())
    assert doc["format_version"] == 1
    assert doc["grid"] == GRID.to_dict()
    assert doc["config"]["name"] == "default"
    assert set(doc["versions"]) >= {"clustermass", "tensorflow", "tensorflow_probability",
                                    "numpy"}
    assert len(doc["weights"]["sha256"]) == 64
    loaded = MassFlow.load(path, grid=GRID)
    np.testing.assert_array_equal(loaded.log_prob(log_m[:20], hists[:20]),
                                  flow.log_prob(log_m[:20], hists[:20]))
    assert loaded.config == flow.config and loaded.grid == flow.grid
    assert loaded.meta["best_val_loss"] == flow.meta["best_val_loss"]
    # Saving again replaces the directory atomically and leaves no temporary files.
    flow.save(path)
    assert [p for p in os.listdir(tmp_path) if "model" in p] == ["model"]
    np.testing.assert_array_equal(np.load(path / "weights.npz", allow_pickle=False)["w000"],
                                  flow._ensure_network().weight_arrays()[0][1])


def test_save_untrained_is_an_error(tmp_path):
    with pytest.raises(ModelError, match="has not been trained"):
        MassFlow("paper", grid=GRID).save(tmp_path / "m")


@pytest.fixture
def saved(trained, tmp_path):
    path = tmp_path / "model"
    trained[0].save(path)
    return path


def test_load_missing(tmp_path):
    with pytest.raises(ModelError, match="model.json is missing"):
        MassFlow.load(tmp_path / "nowhere")


def test_load_corrupt_weights(saved):
    w = saved / "weights.npz"
    data = w.read_bytes()
    w.write_bytes(data[: len(data) // 2])  # truncated
    with pytest.raises(ModelError, match="corrupt or was modified"):
        MassFlow.load(saved)
    w.unlink()
    with pytest.raises(ModelError, match="weight file .* is missing"):
        MassFlow.load(saved)


def test_load_bad_json(saved):
    (saved / "model.json").write_text('{"format": "clustermass.MassFlow", ')
    with pytest.raises(ModelError, match="not a valid model file"):
        MassFlow.load(saved)
    (saved / "model.json").write_text('{"hello": 1}')
    with pytest.raises(ModelError, match="not a clustermass MassFlow model file"):
        MassFlow.load(saved)


def test_load_tampered_json(saved):
    doc = json.loads((saved / "model.json").read_text())
    doc["scaling"]["y_mean"] += 0.3
    (saved / "model.json").write_text(json.dumps(doc))
    with pytest.raises(ModelError, match="modified after it was saved"):
        MassFlow.load(saved)


def test_load_incompatible(saved):
    with pytest.raises(IncompatibleModelError, match="was trained on PhaseSpaceGrid"):
        MassFlow.load(saved, grid=PhaseSpaceGrid())
    doc = json.loads((saved / "model.json").read_text())
    doc["format_version"] = 99
    (saved / "model.json").write_text(json.dumps(doc))
    with pytest.raises(IncompatibleModelError, match="format version 99"):
        MassFlow.load(saved)


def test_pretrained(saved, tmp_path, monkeypatch):
    import clustermass.flow.model as flow_model

    with pytest.raises(InvalidInputError, match="available: contaminated, pure"):
        MassFlow.pretrained("clean")
    monkeypatch.setattr(flow_model, "pretrained_path", lambda kind: tmp_path / "none" / kind)
    with pytest.raises(ModelError, match="clustermass train MOCKS --config default"):
        MassFlow.pretrained("contaminated")
    monkeypatch.setattr(flow_model, "pretrained_path", lambda kind: saved)
    flow = MassFlow.pretrained("Contaminated")
    assert flow.name == "contaminated"
    assert flow.posterior(np.ones(GRID.shape) * 3).method == "flow:contaminated"


# ----------------------------------------------------------------------------
# Loading once, warm calls, the training support (issue #11, #10 item 4)
# ----------------------------------------------------------------------------
def _rss_mb():
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) / 1024 for line in f if line.startswith("VmRSS:"))
    except (OSError, StopIteration):
        pytest.skip("no /proc/self/status on this system")


def _toy_clusters(ns, seed=0, sigma=900.0):
    """Clusters with uniform radii and Gaussian velocities, ``ns`` galaxies each."""
    import astropy.units as u

    from clustermass import ClusterMass
    from clustermass.phasespace import R_UNIT

    rng = np.random.default_rng(seed)
    return [ClusterMass.from_phase_space(rng.uniform(0, 1.5, n) * R_UNIT,
                                         rng.normal(0, sigma, n) * u.km / u.s, redshift=0.117)
            for n in ns]


def test_load_reads_a_directory_once_and_sees_changes(trained, tmp_path):
    flow, hists, log_m, _ = trained
    path = tmp_path / "model"
    flow.save(path)
    a, b = MassFlow.load(path), MassFlow.load(path)
    assert a is not b and a._network is b._network  # one network, hence one trace
    a.meta["name"] = "renamed"
    assert b.name == "default"  # each load has its own metadata
    with pytest.raises(IncompatibleModelError, match="was trained on PhaseSpaceGrid"):
        MassFlow.load(path, grid=PhaseSpaceGrid())  # checked for a model in memory too
    # A model saved anew in the same directory is read anew.
    other = MassFlow(small("default", max_updates=10), grid=GRID)
    other.fit(hists, log_m, seed=1, progress=False)
    other.save(path)
    c = MassFlow.load(path)
    assert c._network is not a._network
    np.testing.assert_array_equal(c.log_prob(log_m[:5], hists[:5]),
                                  other.log_prob(log_m[:5], hists[:5]))
    assert not np.array_equal(c.log_prob(log_m[:5], hists[:5]),
                              a.log_prob(log_m[:5], hists[:5]))
    MassFlow.clear_cache()
    assert MassFlow.load(path)._network is not c._network


def test_warm_inference_traces_once_and_keeps_no_memory(tf):
    from clustermass.exceptions import ClusterMassWarning

    clusters = _toy_clusters((15, 30, 55, 80, 120, 170, 250, 400))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ClusterMassWarning)
        for c in clusters:  # warm-up
            c.infer()
        net = MassFlow.pretrained("contaminated")._network
        start = _rss_mb()
        for i in range(300):
            clusters[i % len(clusters)].infer()
        growth = _rss_mb() - start
    # The default model is read, built and traced once per session, whatever
    # the number of galaxies; before, each call traced anew (~0.35 s, ~5.5 MB).
    assert MassFlow.pretrained("contaminated")._network is net
    assert net.tracing_count()["log_prob_grid"] == 1
    assert growth < 30, f"resident memory grew by {growth:.1f} MB over 300 calls"


def test_posteriors_are_zero_outside_the_training_support(tf):
    from clustermass.posterior import default_log_mass_grid
    from clustermass.priors import mass_function_prior

    flow = MassFlow.pretrained("contaminated")
    assert flow.training_support == (12.9, 15.6)
    assert flow.training_redshift_range == (0.01, 0.3)  # trained across redshifts
    # A poor, cold group: the flow's own density spills below 12.9.
    h = _toy_clusters([12], seed=3, sigma=150.0)[0].histogram(flow.grid)
    x = default_log_mass_grid()
    raw = flow.pdf_grid(h, x)[0]
    inside = (x >= 12.9 - 1e-9) & (x <= 15.6 + 1e-9)
    assert np.trapezoid(np.where(inside, 0, raw), x) > 1e-3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ModelExtrapolationWarning)
        flat = flow.posterior(h)
        batch = flow.posteriors(np.stack([h, h]), prior="mass_function")
    assert np.all(flat.density[~inside] == 0)
    assert np.trapezoid(flat.density, x) == pytest.approx(1.0, abs=1e-12)
    expected = np.where(inside, raw, 0) / np.trapezoid(np.where(inside, raw, 0), x)
    np.testing.assert_allclose(flat.density, expected, rtol=1e-10, atol=1e-300)
    assert flat.meta["support"] == (12.9, 15.6)
    # The mass-function prior re-weights inside the support only.
    # (float32 arithmetic differs with the batch size: compare with the same batch)
    w = mass_function_prior(x, universe=flow.training_universe)
    mf = np.where(inside, flow.pdf_grid(np.stack([h, h]), x) * w, 0)
    for post, expected in zip(batch, mf / np.trapezoid(mf, x)[:, None], strict=True):
        assert post.meta["support"] == (12.9, 15.6) and post.meta["prior"] == "mass_function"
        assert np.all(post.density[~inside] == 0)
        np.testing.assert_allclose(post.density, expected, rtol=1e-10, atol=1e-300)


def test_support_is_unknown_for_a_flow_trained_on_arrays(trained):
    flow, hists, _, _ = trained
    assert flow.training_support is None and flow.training_redshift_range is None
    post = flow.posterior(hists[0])
    assert post.meta["support"] is None
    raw = flow.pdf_grid(hists[0])[0]  # no truncation, only the normalisation on the grid
    np.testing.assert_allclose(post.density, raw / np.trapezoid(raw, post.log_mass_grid),
                               rtol=1e-10)


def test_mass_function_prior_uses_the_models_training_universe(tf):
    from clustermass.posterior import default_log_mass_grid
    from clustermass.priors import TrainingUniverse, reweight

    h = _toy_clusters([120], seed=4)[0].histogram(PhaseSpaceGrid())
    def at(z):  # the shipped flow, as if trained at the single redshift z
        flow = MassFlow.pretrained("contaminated")
        universe = flow.meta["training_catalogue"]["meta"]["universe"]
        universe["redshift"], universe["redshift_range"] = z, [z, z]
        return flow

    at_0117, at_03 = at(0.117), at(0.3)
    # each MassFlow has its own meta: the shipped one is untouched
    assert MassFlow.pretrained("contaminated").training_redshift_range == (0.01, 0.3)
    assert at_0117.training_universe == TrainingUniverse(redshift=0.117)
    assert at_03.training_universe == TrainingUniverse(redshift=0.3)
    assert at_03.training_redshift_range == (0.3, 0.3)
    x = default_log_mass_grid()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ModelExtrapolationWarning)
        flat = at_03.posterior(h)
        p3 = at_03.posterior(h, prior="mass_function")
        p0117 = at_0117.posterior(h, prior="mass_function")
    np.testing.assert_allclose(
        p3.density, reweight(flat.density, x, "mass_function",
                             universe=TrainingUniverse(redshift=0.3), support=(12.9, 15.6)),
        rtol=1e-10, atol=1e-300)
    assert p3.mean < p0117.mean  # fewer massive haloes at z = 0.3


# ----------------------------------------------------------------------------
# Training from a catalogue (clustermass.mocks stand-in)
# ----------------------------------------------------------------------------
def _fake_mocks(monkeypatch, hists, log_m, host_id, kind, grid):
    """Make ``clustermass.mocks.load`` return a catalogue of these histograms on ``grid``."""

    class FakeCatalogue:
        meta = {"kind": kind, "redshift": MDPL2_UNIVERSE.redshift}
        log_mass = log_m

        def histograms(self, g, *, thin=None, seed=None):
            assert g == grid
            return hists

    FakeCatalogue.host_id = host_id
    fake = types.ModuleType("clustermass.mocks")
    fake.load = lambda path: FakeCatalogue()
    monkeypatch.setitem(sys.modules, "clustermass.mocks", fake)
    monkeypatch.setattr(clustermass, "mocks", fake, raising=False)


def test_train_from_catalogue(tf, tmp_path, monkeypatch):
    hists, log_m = count_data(300, np.random.default_rng(9))
    _fake_mocks(monkeypatch, hists, log_m, np.arange(300) // 3, "contaminated", GRID)
    out = tmp_path / "model"
    flow = train_from_catalogue(tmp_path / "cat.h5", config=small("default", max_updates=30),
                                output=out, seed=0, grid=GRID)
    assert not (tmp_path / "model.checkpoints").exists()
    loaded = MassFlow.load(out)
    assert loaded.meta["training_catalogue"]["n_hosts"] == 100
    assert loaded.meta["training_catalogue"]["file"] == "cat.h5"  # not a machine's path
    assert loaded.meta["training_catalogue"]["meta"]["kind"] == "contaminated"
    np.testing.assert_array_equal(loaded.log_prob(log_m[:5], hists[:5]),
                                  flow.log_prob(log_m[:5], hists[:5]))
    # The mass-function prior is that of the universe the model was trained in.
    assert loaded.training_universe == MDPL2_UNIVERSE
    default = loaded.posterior(hists[0], prior="mass_function")
    assert default.mean == loaded.posterior(hists[0], prior="mass_function",
                                            redshift=MDPL2_UNIVERSE.redshift).mean
    loaded.meta["training_catalogue"]["meta"]["redshift"] = 1.0
    assert loaded.training_universe.redshift == 1.0
    # Fewer massive clusters at z = 1: the posterior moves down (this barely
    # trained flow's may leave the training range, which is not the point here).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ModelExtrapolationWarning)
        assert loaded.posterior(hists[0], prior="mass_function").mean < default.mean


def test_cli_train_applies_config_overrides(tf, tmp_path, monkeypatch, capsys):
    from clustermass.cli import main

    grid = PhaseSpaceGrid()  # the CLI trains on the standard grid
    hists, log_m = count_data(200, np.random.default_rng(3), grid=grid)
    _fake_mocks(monkeypatch, hists, log_m, np.arange(200), "pure", grid)
    out = tmp_path / "model"
    args = ["-q", "train", str(tmp_path / "cat.h5"), "--output", str(out),
            "--set", "embedding_units=[8]", "--set", "marginals=true", "--max-updates", "10"]
    assert main(args) == 0
    config = MassFlow.load(out).config
    assert config.marginals is True and config.embedding_units == (8,)
    assert config.pool == 2 and config.name == "default"
    # An unknown field or a malformed override is a clear error, not a traceback.
    assert main(["-q", "train", "x.h5", "--output", str(out), "--set", "colour=red"]) != 0
    assert "unknown FlowConfig field" in capsys.readouterr().err
    assert main(["-q", "train", "x.h5", "--output", str(out), "--set", "marginals"]) != 0
    assert "NAME=VALUE" in capsys.readouterr().err
