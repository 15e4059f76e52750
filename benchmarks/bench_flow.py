"""Benchmarks of `clustermass.flow.MassFlow`: training and inference speed, and model choice.

Usage::

    python benchmarks/bench_flow.py              # timings (a) and (b), ~2-3 minutes
    python benchmarks/bench_flow.py --compare    # held-out NLL of flow variants on toy
                                                 # phase spaces, ~15 minutes on 2 cores

(a) 2000 training updates of the ``paper`` flow (batch 100, 50 x 50 inputs,
    no early stopping). Target: < 2 minutes on 2 CPU cores.
(b) ``pdf_grid`` of 10,000 clusters on the default log-mass grid (701 points),
    for ``paper`` and ``default``. Target: < 10 s on 2 CPU cores.

Inputs for (a) and (b) are random galaxy counts. TensorFlow's threading is
left at its defaults; pin the cores from outside (``taskset -c 0,1 python ...``)
to emulate a 2-core machine.

``--compare`` trains several flow configurations on *toy* phase spaces (made
here, with interlopers and mergers; not the clustermass mocks) and reports the
held-out negative log-likelihood (NLL, nats per cluster; also on test clusters
thinned to 70% of their galaxies), the 68% coverage, the median posterior
width, and how far the posterior mean moves when 30% of each test cluster's
galaxies are removed (mean signed shift, median absolute shift, and the
fraction of clusters moving by more than 0.5 sigma, all in units of the
posterior standard deviation). It is how the
``default`` configuration was chosen; re-check on real mocks.
"""

import argparse
import sys
import time

import numpy as np

from clustermass.priors import MDPL2_UNIVERSE

# --------------------------------------------------------------------------
# Toy phase spaces (only for benchmarking and model selection)
# --------------------------------------------------------------------------
_Z = MDPL2_UNIVERSE.redshift  # the mock catalogues' redshift
_E2 = 0.307 * (1 + _Z) ** 3 + 0.693  # E(z)^2, Planck-like
_RHO_C = 2.775e11 * _E2  # h^2 Msun Mpc^-3


def _nfw_radii(rng, n, c, x_max):
    """Radii (in units of r200) drawn from an NFW profile truncated at x_max * r200."""
    xs = np.linspace(0, x_max, 512)
    m = np.log1p(c * xs) - c * xs / (1 + c * xs)
    return np.interp(rng.uniform(0, m[-1], n), m, xs)


def toy_catalogue(n_hosts, n_los, *, grid, seed, log_m_range=(13.5, 15.2), depth=1.0,
                  merger_fraction=0.25):
    """Toy projected phase spaces: NFW members, Gaussian velocities, interlopers, mergers.

    Per host: log M flat in ``log_m_range``; r200 from M200c; sigma_v from
    Evrard et al. (2008); members ~ 25 (M / 1e14)^0.85 x 10^N(0, 0.15)
    inside r200 (x ``depth``), NFW positions out to 2 r200, isotropic Gaussian
    velocities; infall interlopers (0.3 x members, sigma = 1.8 sigma_v);
    a uniform field (1 galaxy per (h^-1 Mpc)^2 per 1000 km/s, x ``depth``);
    with probability ``merger_fraction`` a second halo (0.2-0.8 of the mass)
    offset in projection and velocity. ``n_los`` independent projections per
    host share the host's parameters.

    Returns
    -------
    hists : ndarray (n_hosts * n_los, n_r, n_v)
    log_m, host_id : ndarray
    """
    rng = np.random.default_rng(seed)
    lm = rng.uniform(*log_m_range, n_hosts)
    M = 10**lm
    r200 = (3 * M / (4 * np.pi * 200 * _RHO_C)) ** (1 / 3)
    sig = 1082.9 * (np.sqrt(_E2) * M / 1e15) ** 0.3361 * 10 ** rng.normal(0, 0.03, n_hosts)
    conc = 5 * (M / 1e14) ** -0.1 * 10 ** rng.normal(0, 0.15, n_hosts)
    n_mem = 25 * (M / 1e14) ** 0.85 * 10 ** rng.normal(0, 0.15, n_hosts)
    merger = rng.uniform(size=n_hosts) < merger_fraction
    q = rng.uniform(0.2, 0.8, n_hosts)
    off_r = rng.uniform(0.2, 1.4, n_hosts)
    off_v = rng.normal(0, 1, n_hosts)

    def halo(n_in, rr, c, s, x0=0.0, v0=0.0):
        x_max = 2.0
        m = lambda x: np.log1p(c * x) - c * x / (1 + c * x)  # noqa: E731
        n = rng.poisson(depth * n_in * m(x_max) / m(1.0))
        r = _nfw_radii(rng, n, c, x_max) * rr
        mu = rng.uniform(-1, 1, n)
        phi = rng.uniform(0, 2 * np.pi, n)
        rp = r * np.sqrt(1 - mu**2)
        x = x0 + rp * np.cos(phi)
        y = rp * np.sin(phi)
        v = v0 + rng.normal(0, s * (1 + r / rr) ** -0.3 * 1.15, n)
        return np.hypot(x, y), v

    R_all, v_all, idx = [], [], []
    row = 0
    for h in range(n_hosts):
        for _ in range(n_los):
            parts = [halo(n_mem[h], r200[h], conc[h], sig[h])]
            if merger[h]:
                Ms = q[h] * M[h]
                rs = (3 * Ms / (4 * np.pi * 200 * _RHO_C)) ** (1 / 3)
                ss = 1082.9 * (np.sqrt(_E2) * Ms / 1e15) ** 0.3361
                phi = rng.uniform(0, 2 * np.pi)
                parts.append(halo(25 * (Ms / 1e14) ** 0.85, rs, 5.0, ss,
                                  x0=off_r[h] * abs(np.cos(phi)) + 1e-3,
                                  v0=off_v[h] * sig[h]))
            n_inf = rng.poisson(0.3 * depth * n_mem[h])
            parts.append((1.6 * np.sqrt(rng.uniform(size=n_inf)),
                          rng.normal(0, 1.8 * sig[h], n_inf)))
            n_bg = rng.poisson(depth * 1.0 * np.pi * 1.6**2 * 5.0)
            parts.append((1.6 * np.sqrt(rng.uniform(size=n_bg)),
                          rng.uniform(-2500, 2500, n_bg)))
            R = np.concatenate([p[0] for p in parts])
            v = np.concatenate([p[1] for p in parts])
            R_all.append(R)
            v_all.append(v)
            idx.append(np.full(R.size, row))
            row += 1
    hists = grid.histograms(np.concatenate(idx), np.concatenate(R_all), np.concatenate(v_all),
                            n_clusters=row)
    return hists, np.repeat(lm, n_los), np.repeat(np.arange(n_hosts), n_los)


# --------------------------------------------------------------------------
# Timings
# --------------------------------------------------------------------------
def _random_counts(n, grid, seed):
    rng = np.random.default_rng(seed)
    log_m = rng.uniform(13.5, 15.2, n)
    lam = 50 * 10 ** (log_m - 14.0) / grid.size
    shape = np.exp(-np.linspace(0, 3, grid.n_r))[:, None] * np.exp(
        -np.linspace(-2, 2, grid.n_v) ** 2)[None, :]
    shape = shape / shape.mean()
    hists = rng.poisson(lam[:, None, None] * shape[None]).astype(np.float32)
    return hists, log_m


def bench_timings():
    from clustermass.flow import FlowConfig, MassFlow
    from clustermass.phasespace import PhaseSpaceGrid

    grid = PhaseSpaceGrid()
    # The first network built imports TensorFlow (the flow package does so lazily).
    t0 = time.perf_counter()
    MassFlow("paper", grid=grid).architecture()
    t_import = time.perf_counter() - t0
    hists, log_m = _random_counts(5000, grid, seed=0)
    rows = []

    cfg = FlowConfig.preset("paper", patience=None)
    flow = MassFlow(cfg, grid=grid)
    t0 = time.perf_counter()
    hist = flow.fit(hists, log_m, max_updates=2000, seed=0, progress=False)
    t_fit = time.perf_counter() - t0
    rows.append(("(a) paper: 2000 updates, batch 100, 50x50, val 1000 every 50",
                 t_fit, "< 120 s"))
    assert hist["n_updates"] == 2000

    big, _ = _random_counts(10_000, grid, seed=1)
    flow.pdf_grid(big[:10])  # trace once
    t0 = time.perf_counter()
    pdf = flow.pdf_grid(big)
    rows.append(("(b) paper: pdf_grid 10,000 clusters x 701 points",
                 time.perf_counter() - t0, "< 10 s"))
    assert pdf.shape == (10_000, 701)

    dflow = MassFlow(FlowConfig.preset("default", patience=None), grid=grid)
    t0 = time.perf_counter()
    dflow.fit(hists, log_m, max_updates=2000, seed=0, progress=False)
    rows.append(("(a') default: 2000 updates, same data and validation",
                 time.perf_counter() - t0, "-"))
    dflow.pdf_grid(big[:10])
    t0 = time.perf_counter()
    dflow.pdf_grid(big)
    rows.append(("(b) default: pdf_grid 10,000 clusters x 701 points",
                 time.perf_counter() - t0, "< 10 s"))

    import os

    print(f"TensorFlow import and first network: {t_import:.1f} s; "
          f"cores visible: {os.cpu_count()}; "
          f"affinity: {len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else '?'}")
    print(f"{'benchmark':<62} {'time [s]':>9}  target")
    for name, t, target in rows:
        print(f"{name:<62} {t:9.1f}  {target}")


# --------------------------------------------------------------------------
# Model comparison
# --------------------------------------------------------------------------
def _variants():
    """Configurations compared by ``--compare`` (every setting that matters spelled out)."""
    from clustermass.flow import FlowConfig

    paper = FlowConfig.preset("paper")
    d = FlowConfig.preset("default")
    spline = d.replace(normalize="fraction", smooth=0.0, augment_thin=(0.4, 1.0))
    return {
        "paper": paper,
        "default": d,
        "spline/log1p/no-aug": spline.replace(normalize="log1p", augment_thin=None),
        "spline/log1p/aug": spline.replace(normalize="log1p"),
        "spline/fraction/no-aug": spline.replace(augment_thin=None),
        "spline/fraction/aug": spline,
        "spline16/fraction/aug": spline.replace(spline_bins=16),
        "spline/fraction/aug/emb256": spline.replace(embedding_units=(256, 64)),
        "spline/fraction/aug/emb64": spline.replace(embedding_units=(64,)),
        "spline/fraction/aug/patience600": spline.replace(patience=600),
        "spline/fraction/aug/smooth1": spline.replace(smooth=1.0),
        "spline/fraction/aug/smooth2": spline.replace(smooth=2.0),
        "spline/fraction/aug/smooth3": spline.replace(smooth=3.0),
        "spline16/fraction/aug/smooth2": spline.replace(smooth=2.0, spline_bins=16),
        "spline/log1p/aug/smooth1": spline.replace(normalize="log1p", smooth=1.0),
        "affine/fraction/aug/smooth2": spline.replace(smooth=2.0, blocks=("affine",)),
        "paper/fraction/aug": paper.replace(normalize="fraction", augment_thin=(0.4, 1.0)),
        "paper/smooth1": paper.replace(smooth=1.0),
    }


def bench_compare(names=None, n_hosts=2500, n_los=4, n_test=1000, seed=0):
    from clustermass.flow import MassFlow
    from clustermass.flow.fit import thin_histograms
    from clustermass.phasespace import PhaseSpaceGrid
    from clustermass.posterior import default_log_mass_grid

    grid = PhaseSpaceGrid()
    t0 = time.perf_counter()
    X, y, g = toy_catalogue(n_hosts, n_los, grid=grid, seed=1)
    Xt, yt, _ = toy_catalogue(n_test, 1, grid=grid, seed=2)
    Xthin = thin_histograms(Xt, 0.7, rng=3)
    print(f"toy catalogue: {len(y)} training clusters ({n_hosts} hosts), {len(yt)} test; "
          f"median galaxies {np.median(X.sum(axis=(1, 2))):.0f}; {time.perf_counter() - t0:.0f} s",
          flush=True)
    lg = default_log_mass_grid()
    print(f"{'config':<28} {'NLL':>7} {'NLL@0.7':>8} {'cov68':>6} {'std':>6} "
          f"{'dmu/sig':>8} {'|dmu|/sig':>9} {'>0.5sig':>8} {'updates':>8} {'time':>6}",
          flush=True)
    for name, cfg in _variants().items():
        if names and name not in names:
            continue
        flow = MassFlow(cfg, grid=grid)
        t0 = time.perf_counter()
        h = flow.fit(X, y, groups=g, seed=seed, progress=False)
        dt = time.perf_counter() - t0
        nll = -np.mean(flow.log_prob(yt, Xt))
        nll_thin = -np.mean(flow.log_prob(yt, Xthin))
        p = flow.pdf_grid(Xt, lg)
        p /= np.trapezoid(p, lg, axis=1)[:, None]
        mu = np.trapezoid(p * lg, lg, axis=1)
        sd = np.sqrt(np.trapezoid(p * (lg - mu[:, None]) ** 2, lg, axis=1))
        cdf = np.cumsum(p, axis=1) * (lg[1] - lg[0])
        u = np.array([np.interp(t, lg, c) for t, c in zip(yt, cdf, strict=True)])
        cov = np.mean(np.abs(u - 0.5) < 0.3413)
        pt = flow.pdf_grid(Xthin, lg)
        pt /= np.trapezoid(pt, lg, axis=1)[:, None]
        mut = np.trapezoid(pt * lg, lg, axis=1)
        signed = (mut - mu) / sd
        shift = np.abs(signed)
        print(f"{name:<28} {nll:7.3f} {nll_thin:8.3f} {cov:6.2f} {np.median(sd):6.3f} "
              f"{np.mean(signed):8.2f} {np.median(shift):9.2f} {np.mean(shift > 0.5):8.2f} "
              f"{h['n_updates']:8d} {dt:6.0f}", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--compare", action="store_true",
                        help="compare flow variants on toy phase spaces")
    parser.add_argument("--only", nargs="*", help="variants to compare")
    parser.add_argument("--hosts", type=int, default=2500)
    parser.add_argument("--seed", type=int, default=0, help="training seed")
    args = parser.parse_args(argv)
    if args.compare:
        bench_compare(args.only, n_hosts=args.hosts, seed=args.seed)
    else:
        bench_timings()
    return 0


if __name__ == "__main__":
    sys.exit(main())
