"""How small can the mass scatter of massive mock clusters be, with and without richness?

Usage::

    python scripts/information_floor.py MOCKS [MOCKS ...] [--high-mass 14.8] [--json]

For each test catalogue (from ``clustermass mock --split test``) this prints,
for the clusters with log M >= ``--high-mass``:

* the floor that the synthetic universe puts under any estimator that reads
  only velocities: the host-to-host scatter of the velocity bias b_v
  (`SyntheticUniverse.velocity_bias_scatter`, natural log) propagated through
  sigma_v ~ M^alpha (Evrard et al. 2008, alpha = 0.3361);
* the residual scatter of M-sigma (biweight dispersion of the galaxies in the
  phase-space window, `clustermass.validation.msigma_point_estimates`), with
  its mean residual (bias) and root-mean-square residual;
* the spread (standard deviation) of the true log masses of those clusters,
  which is the residual scatter of an estimator that returns one constant
  mass for all of them: a residual scatter in bins of true mass is only a
  measure of accuracy for an estimator whose predictions follow the truth
  (slope ~1 and no bias), not for a saturated one;
* the residual scatter of a linear estimator of log M from log sigma and the
  log of the number of galaxies in the window (richness), fitted by least
  squares on half of the clusters of all masses and evaluated on the other
  half. Richness carries mass information that velocities do not, but it
  depends on the depth of the survey (it moves by log10(0.7) = -0.155 dex when
  30 % of the galaxies are lost), which the shipped flows ignore by design.
"""

import argparse
import json

import numpy as np

from clustermass import mocks
from clustermass.baselines import EVRARD08
from clustermass.phasespace import PhaseSpaceGrid
from clustermass.priors import MDPL2_UNIVERSE
from clustermass.validation import msigma_point_estimates


def velocity_bias_floor(universe_params):
    """Scatter of log M (dex) from the velocity-bias scatter alone."""
    s_ln = float(universe_params.get("velocity_bias_scatter", 0.05))
    return s_ln / np.log(10.0) / EVRARD08.alpha


def floors(path, high_mass=14.8, seed=0):
    cat = mocks.load(path)
    truth = np.asarray(cat.log_mass, float)
    grid = PhaseSpaceGrid()
    redshift = float(cat.meta.get("redshift", MDPL2_UNIVERSE.redshift))
    log_m_sigma, n_gal = msigma_point_estimates(cat, grid, redshift=redshift)
    high = truth >= high_mass
    # Linear estimator log M ~ a log sigma + b log N + c: fit on one half, test on the other.
    rng = np.random.default_rng(seed)
    fit = rng.random(truth.size) < 0.5
    X = np.column_stack([log_m_sigma, np.log10(np.maximum(n_gal, 1)), np.ones(truth.size)])
    coef, *_ = np.linalg.lstsq(X[fit], truth[fit], rcond=None)
    combined = X @ coef
    test_high = high & ~fit
    params = cat.meta.get("universe", {})
    return {
        "catalogue": str(path),
        "kind": cat.meta.get("kind"),
        "n_clusters": int(truth.size),
        f"n_logM_ge_{high_mass}": int(high.sum()),
        "velocity_bias_floor_dex": float(velocity_bias_floor(params)),
        "msigma_scatter_dex": float(np.std(log_m_sigma[high] - truth[high], ddof=1)),
        "msigma_bias_dex": float(np.mean(log_m_sigma[high] - truth[high])),
        "msigma_rms_dex": float(np.sqrt(np.mean((log_m_sigma[high] - truth[high]) ** 2))),
        "msigma_slope": float(np.polyfit(truth[high], log_m_sigma[high], 1)[0]),
        "true_log_mass_spread_dex": float(np.std(truth[high], ddof=1)),
        "sigma_plus_richness_scatter_dex": float(
            np.std(combined[test_high] - truth[test_high], ddof=1)),
        "sigma_plus_richness_coefficients": [float(c) for c in coef],
        "median_galaxies_in_window": float(np.median(n_gal[high])),
    }


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("mocks", nargs="+", help="test catalogues (HDF5)")
    p.add_argument("--high-mass", type=float, default=14.8)
    p.add_argument("--seed", type=int, default=0, help="seed of the fit/test halves")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    out = [floors(m, args.high_mass, args.seed) for m in args.mocks]
    if args.json:
        print(json.dumps(out, indent=1))
        return
    for r in out:
        k = f"n_logM_ge_{args.high_mass}"
        print(f"{r['catalogue']} ({r['kind']}): {r[k]} clusters with log M >= {args.high_mass},"
              f" median {r['median_galaxies_in_window']:.0f} galaxies in the window")
        print(f"  velocity-bias floor          {r['velocity_bias_floor_dex']:.3f} dex")
        print(f"  M-sigma (biweight)           {r['msigma_scatter_dex']:.3f} dex"
              f"  (bias {r['msigma_bias_dex']:+.3f}, rms {r['msigma_rms_dex']:.3f},"
              f" slope of log M_sigma on log M {r['msigma_slope']:.2f})")
        print(f"  spread of the true log M     {r['true_log_mass_spread_dex']:.3f} dex"
              "  (scatter of a constant estimate)")
        print(f"  sigma + richness (linear)    {r['sigma_plus_richness_scatter_dex']:.3f} dex")


if __name__ == "__main__":
    main()
