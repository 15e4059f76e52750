"""Validation of the mock catalogues against published simulation results.

``clustermass mock-validate --output DIR`` (or ``python scripts/validate_mocks.py``)
generates pure and contaminated, training and test catalogues and writes, to
``DIR``, a JSON summary and the figures of the user guide:

* ``fig1_cluster.png``: one cluster, members and interlopers (Kodi Ramanah et
  al. 2020, Fig. 1);
* ``fig2_mass_functions.png``: mass distributions of the training and test
  sets, pure and contaminated (Kodi Ramanah et al. 2020, Fig. 2);
* ``sigma_mass.png``: biweight velocity dispersion of pure mocks against M200c,
  with the dark-matter relation of Evrard et al. (2008, ApJ 672, 122);
* ``interloper_fraction.png``: interloper fraction per mass bin;
* ``interloper_density.png``: stacked projected phase-space density of
  interlopers against the universal form of Mamon, Biviano & Murante (2010,
  A&A 520, A30);
* ``richness_mass.png``: members inside r200c against M200c.
"""

import argparse
import json
import os
import pathlib
import shutil
import sys

import numpy as np
from astropy.table import QTable

from ..exceptions import ClusterMassError, InvalidInputError
from ..logger import log
from ..phasespace import R_UNIT, V_UNIT
from .universe import mbm10_interloper_density

__all__ = [
    "biweight_dispersions",
    "fit_msigma",
    "host_weights",
    "interloper_fractions",
    "stack_interloper_density",
    "compare_mbm10",
    "fit_richness",
    "run_validation",
    "main",
    "FIGURES",
]

#: Figures written by `run_validation`.
FIGURES = ("fig1_cluster.png", "fig2_mass_functions.png", "sigma_mass.png",
           "interloper_fraction.png", "interloper_density.png", "richness_mass.png")

EVRARD_SIGMA15 = 1082.9
EVRARD_ALPHA = 0.3361
DEFAULT_MASS_BINS = np.array([13.5, 13.8, 14.1, 14.4, 14.7, 15.0, 15.3])


def _nan_stat(func, a, **kwargs):
    """``func`` (np.nanmean, np.nanmedian) without the warning for all-NaN input."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return func(a, **kwargs)


def _arrays(catalogue):
    order, starts, stops = catalogue._group_slices()
    g = catalogue.galaxies
    R = np.asarray(g["R"].to_value(R_UNIT), float)[order]
    v = np.asarray(g["v"].to_value(V_UNIT), float)[order]
    member = np.asarray(g["member"], bool)[order]
    return R, v, member, starts, stops


def biweight_dispersions(catalogue, *, min_galaxies=3):
    """Biweight velocity dispersion (c = 9, Beers et al. 1990) of every cluster, km/s.

    NaN where a cluster has fewer than ``min_galaxies`` galaxies.
    """
    from astropy.stats import biweight_scale

    _, v, _, starts, stops = _arrays(catalogue)
    out = np.full(len(starts), np.nan)
    for i, (a, b) in enumerate(zip(starts, stops, strict=True)):
        if b - a >= min_galaxies:
            out[i] = biweight_scale(v[a:b], c=9.0, modify_sample_size=True)
    return out


def host_weights(catalogue):
    """1 / (clusters of the same host): every host counts once in a fit.

    The flat training set gives rare massive hosts many lines of sight (Ho et
    al. 2019); unweighted fits would be dominated by a few of them.
    """
    _, inv, counts = np.unique(catalogue.host_id, return_inverse=True, return_counts=True)
    return 1.0 / counts[inv]


def fit_msigma(log_mass, sigma, *, redshift=0.117, cosmology=None, weights=None):
    """Fit ``log10 sigma = log10 sigma_15 + alpha log10[E(z) M / 1e15]`` (M in h^-1 Msun).

    ``E(z) M`` in h^-1 Msun is ``h(z) M`` in Msun, the variable of Evrard et
    al. (2008): sigma_15 = 1082.9 km/s, alpha = 0.3361 for dark matter.
    ``weights`` (e.g. `host_weights`) weight the clusters in the least squares.

    Returns
    -------
    fit : dict
        ``slope``, ``slope_err``, ``sigma_15``, ``sigma_15_err``,
        ``normalisation_ratio`` (sigma_15 / 1082.9), ``ratio_at_evrard_slope``
        (median sigma / Evrard prediction), ``scatter_ln_sigma``, ``n``.

    Examples
    --------
    >>> import numpy as np
    >>> from clustermass.mocks.validation import fit_msigma
    >>> lm = np.linspace(13.5, 15.3, 50)
    >>> from astropy.cosmology import Planck13
    >>> s = 1082.9 * (Planck13.efunc(0.117) * 10**(lm - 15))**0.3361
    >>> fit = fit_msigma(lm, s, cosmology=Planck13)
    >>> round(fit['slope'], 4), round(fit['sigma_15'], 1)
    (0.3361, 1082.9)
    """
    from ..phasespace import resolve_cosmology

    cosmo = resolve_cosmology(cosmology)
    lm = np.asarray(log_mass, float)
    s = np.asarray(sigma, float)
    ok = np.isfinite(lm) & np.isfinite(s) & (s > 0)
    if ok.sum() < 3:
        raise InvalidInputError("need at least 3 clusters with a dispersion to fit M-sigma")
    x = lm[ok] + np.log10(cosmo.efunc(redshift)) - 15.0
    y = np.log10(s[ok])
    w = None if weights is None else np.sqrt(np.asarray(weights, float)[ok])
    coef, cov = np.polyfit(x, y, 1, w=w, cov=True)
    resid = y - np.polyval(coef, x)
    pred = np.log10(EVRARD_SIGMA15) + EVRARD_ALPHA * x
    xb = lm[ok]
    binned = []
    for lo, hi in zip(DEFAULT_MASS_BINS[:-1], DEFAULT_MASS_BINS[1:], strict=True):
        sel = (xb >= lo) & (xb < hi)
        if sel.any():
            binned.append({"log_m_min": float(lo), "log_m_max": float(hi), "n": int(sel.sum()),
                           "median_ratio_to_evrard": float(10 ** np.median(y[sel] - pred[sel]))})
    return {
        "slope": float(coef[0]),
        "slope_err": float(np.sqrt(cov[0, 0])),
        "sigma_15": float(10 ** coef[1]),
        "sigma_15_err": float(10 ** coef[1] * np.log(10) * np.sqrt(cov[1, 1])),
        "normalisation_ratio": float(10 ** coef[1] / EVRARD_SIGMA15),
        "ratio_at_evrard_slope": float(10 ** np.median(y - pred)),
        "scatter_ln_sigma": float(np.std(resid * np.log(10), ddof=2)),
        "n": int(ok.sum()),
        "binned": binned,
    }


def interloper_fractions(catalogue, *, bins=DEFAULT_MASS_BINS, grid=None):
    """Fraction of interlopers (galaxies outside r200c in 3D) per log-mass bin.

    Parameters
    ----------
    catalogue : `~clustermass.mocks.MockCatalogue`
        A contaminated catalogue.
    bins : array-like
        Edges in log10[M200c / (h^-1 Msun)].
    grid : `~clustermass.phasespace.PhaseSpaceGrid`, optional
        Also report the fraction inside this window (default: the standard grid).

    Returns
    -------
    table : `~astropy.table.QTable`
        Per bin: ``n_clusters``, ``mean``, ``median``, ``p16``, ``p84`` of the
        per-cluster fraction in the cylinder, ``stacked`` (all interlopers / all
        galaxies) and ``mean_grid`` (fraction inside the grid window).
    """
    from ..phasespace import PhaseSpaceGrid

    grid = PhaseSpaceGrid() if grid is None else grid
    R, v, member, starts, stops = _arrays(catalogue)
    inside = grid.contains(R, v)
    n_gal = stops - starts
    n_int = np.add.reduceat(~member, starts) if len(member) else np.zeros(0)
    n_int = np.where(n_gal > 0, n_int, 0)
    idx = np.repeat(np.arange(len(starts)), n_gal)
    n_in = np.bincount(idx, weights=inside, minlength=len(starts))
    n_in_int = np.bincount(idx, weights=inside & ~member, minlength=len(starts))
    frac = n_int / np.maximum(n_gal, 1)
    cl = catalogue.clusters
    r200 = np.repeat(np.asarray(cl["r200c"].to_value(R_UNIT), float), n_gal)
    v200 = np.repeat(np.asarray(cl["v200c"].to_value(V_UNIT), float), n_gal)
    # virial cylinder of Mamon et al. (2010): R < r200, |v| < 2.7 sigma_los, sigma_los ~ 0.65 v200
    vc = (R < r200) & (np.abs(v) < 2.7 * 0.65 * v200)
    n_vc = np.bincount(idx, weights=vc, minlength=len(starts))
    n_vc_int = np.bincount(idx, weights=vc & ~member, minlength=len(starts))
    frac_grid = np.where(n_in > 0, n_in_int / np.maximum(n_in, 1), np.nan)
    lm = catalogue.log_mass
    rows = []
    bins = np.asarray(bins, float)
    for lo, hi in zip(bins[:-1], bins[1:], strict=True):
        sel = (lm >= lo) & (lm < hi) if hi < bins[-1] else (lm >= lo) & (lm <= hi)
        n = int(sel.sum())
        f = frac[sel]
        rows.append({
            "log_m_min": lo, "log_m_max": hi, "n_clusters": n,
            "mean": float(np.mean(f)) if n else np.nan,
            "median": float(np.median(f)) if n else np.nan,
            "p16": float(np.percentile(f, 16)) if n else np.nan,
            "p84": float(np.percentile(f, 84)) if n else np.nan,
            "stacked": float(n_int[sel].sum() / max(n_gal[sel].sum(), 1)) if n else np.nan,
            "mean_grid": float(_nan_stat(np.nanmean, frac_grid[sel])) if n else np.nan,
            "virial_cylinder": float(n_vc_int[sel].sum() / max(n_vc[sel].sum(), 1))
            if n else np.nan,
        })
    t = QTable(rows=[list(r.values()) for r in rows], names=list(rows[0]))
    for c in t.colnames[3:]:
        t[c].info.format = ".3f"
    return t


def stack_interloper_density(catalogue, *, x_edges=(0.0, 0.2, 0.4, 0.6, 0.8, 1.0),
                             u_edges=(0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5),
                             log_mass_min=14.0, log_mass_max=np.inf, aperture=None,
                             velocity_cut=None):
    """Stacked projected phase-space density of interlopers, in the units of MBM10.

    Interlopers are galaxies outside the host's r200c (3D). For each cluster,
    X = R / r200c and u = |v| / v200c; each (X, u) bin collects the clusters
    whose cylinder covers it entirely, and the counts are divided by the sum of
    their N_v (galaxies inside the r200c sphere), by the area 2 pi X dX and by
    du, as in Mamon, Biviano & Murante (2010).

    Returns
    -------
    stack : dict
        ``g`` (n_x, n_u) density, ``g_err`` (Poisson), ``counts``, ``x``, ``u``
        (bin centres), ``x_edges``, ``u_edges``, ``n_clusters``.
    """
    x_edges = np.asarray(x_edges, float)
    u_edges = np.asarray(u_edges, float)
    meta = catalogue.meta
    aperture = float(meta.get("universe", {}).get("aperture", 1.6)) if aperture is None \
        else float(aperture)
    velocity_cut = float(meta.get("universe", {}).get("velocity_cut", 2500.0)) \
        if velocity_cut is None else float(velocity_cut)
    R, v, member, starts, stops = _arrays(catalogue)
    cl = catalogue.clusters
    r200 = np.asarray(cl["r200c"].to_value(R_UNIT), float)
    v200 = np.asarray(cl["v200c"].to_value(V_UNIT), float)
    nv = np.asarray(cl["n_virial"], float)
    lm = catalogue.log_mass
    counts = np.zeros((x_edges.size - 1, u_edges.size - 1))
    cover = np.zeros_like(counts)
    used = 0
    for i in np.flatnonzero((lm >= log_mass_min) & (lm < log_mass_max) & (nv > 0)):
        a, b = starts[i], stops[i]
        sel = ~member[a:b]
        X = R[a:b][sel] / r200[i]
        U = np.abs(v[a:b][sel]) / v200[i]
        h, _, _ = np.histogram2d(X, U, [x_edges, u_edges])
        ok = np.outer(x_edges[1:] <= aperture / r200[i] + 1e-9,
                      u_edges[1:] <= velocity_cut / v200[i] + 1e-9)
        counts += h * ok
        cover += nv[i] * ok
        used += 1
    area = np.pi * (x_edges[1:] ** 2 - x_edges[:-1] ** 2)
    norm = np.where(cover > 0, cover, np.nan) * area[:, None] * np.diff(u_edges)[None, :]
    g = counts / norm
    return {
        "g": g, "g_err": np.sqrt(counts) / norm, "counts": counts,
        "x": 0.5 * (x_edges[1:] + x_edges[:-1]), "u": 0.5 * (u_edges[1:] + u_edges[:-1]),
        "x_edges": x_edges, "u_edges": u_edges, "n_clusters": used,
        "log_mass_min": float(log_mass_min),
    }


def compare_mbm10(stack):
    """Compare a stacked interloper density with Mamon, Biviano & Murante (2010).

    Returns
    -------
    result : dict
        ``scale``: best factor s in ours ≈ s g_MBM10 (least squares in log);
        ``rms_log_residual``: rms of ln(ours / (s g_MBM10)) over the covered bins;
        ``sigma_i``, ``B``, ``A_ratio``: the MBM10 functional form refitted to ours
        (a free A per X bin, one Gaussian width and one constant), to compare
        with MBM10's sigma_i = 0.612 - 0.0653 X^2, B = 0.0075 and A(X);
        ``A_ratio_spread``: std of ln(A_ours / A_MBM10) over X (0 = same X-shape);
        ``u_profile`` and ``u_profile_mbm10``: density against u averaged over X,
        normalised to its first bin.
    """
    from scipy.optimize import least_squares

    g, err = stack["g"], stack["g_err"]
    X, U = stack["x"], stack["u"]
    m = mbm10_interloper_density(X[:, None], U[None, :])
    ok = np.isfinite(g) & (g > 0)
    if ok.sum() < 5:
        raise InvalidInputError("too few covered bins to compare with Mamon et al. (2010)")
    w = np.where(ok, (g / np.where(ok & (err > 0), err, 1.0)) ** 2, 0.0)  # 1 / var(ln g)
    lr = np.log(np.where(ok, g, 1.0) / m)
    scale = float(np.exp(np.sum(w * lr) / np.sum(w)))
    resid = lr[ok] - np.log(scale)
    chi2 = float(np.sum(w[ok] * resid**2) / max(ok.sum() - 1, 1))

    def model(p):
        A = np.exp(p[: X.size])
        return A[:, None] * np.exp(-0.5 * (U[None, :] / p[X.size]) ** 2) + np.exp(p[-1])

    p0 = np.r_[np.log(0.1) * np.ones(X.size), 0.6, np.log(0.0075)]
    sig_ln = 1.0 / np.sqrt(np.where(w > 0, w, 1.0))
    fit = least_squares(lambda p: ((np.log(model(p)) - np.log(np.where(ok, g, 1.0)))
                                   / sig_ln)[ok], p0)
    A = np.exp(fit.x[: X.size])
    X2 = X * X
    A_mbm = 10.0 ** (-1.061 + 0.364 * X2 - 0.580 * X2**2 + 0.533 * X2**3)
    sigma_i = float(abs(fit.x[X.size]))
    rows = np.isfinite(g).all(axis=1)
    prof = np.mean(g[rows], axis=0) if rows.any() else _nan_stat(np.nanmean, g, axis=0)
    prof_m = m[rows].mean(axis=0) if rows.any() else m.mean(axis=0)
    return {
        "scale": scale,
        "rms_log_residual": float(np.sqrt(np.mean(resid**2))),
        "reduced_chi2": chi2,
        "n_bins": int(ok.sum()),
        "sigma_i": sigma_i,
        "sigma_i_mbm10": float(np.mean(0.612 - 0.0653 * X2)),
        "B": float(np.exp(fit.x[-1])),
        "B_mbm10": 0.0075,
        "A": A.tolist(),
        "A_mbm10": A_mbm.tolist(),
        "A_ratio": (A / A_mbm).tolist(),
        "A_ratio_spread": float(np.std(np.log(A / A_mbm))),
        "u": U.tolist(),
        "u_profile": (prof / prof[0]).tolist(),
        "u_profile_mbm10": (prof_m / prof_m[0]).tolist(),
    }


def fit_richness(catalogue, *, bins=None):
    """Fit ``<N_v> = N_15 (M / 1e15)**slope`` to the mean N_v per log-mass bin.

    N_v is the number of galaxies inside the r200c sphere (a host property, so
    each host counts once). Fitting the binned means (rather than log N) avoids
    the bias of Poisson scatter at low richness; use a contaminated catalogue,
    where the 10-galaxy cut does not select on N_v.
    """
    bins = np.arange(13.5, 15.31, 0.15) if bins is None else np.asarray(bins, float)
    nv = np.asarray(catalogue.clusters["n_virial"], float)
    lm = catalogue.log_mass
    _, first = np.unique(catalogue.host_id, return_index=True)
    lm, nv = lm[first], nv[first]
    mid, mean, n = [], [], []
    for lo, hi in zip(bins[:-1], bins[1:], strict=True):
        sel = (lm >= lo) & (lm < hi)
        if sel.sum() >= 3 and nv[sel].mean() > 0:
            mid.append(lm[sel].mean())
            mean.append(nv[sel].mean())
            n.append(sel.sum())
    if len(mid) < 2:
        raise InvalidInputError("too few hosts to fit the richness-mass relation")
    mid, mean, n = map(np.asarray, (mid, mean, n))
    coef = np.polyfit(mid - 15.0, np.log10(mean), 1, w=np.sqrt(n * mean))
    return {"N_15": float(10 ** coef[1]), "slope": float(coef[0]), "n_hosts": int(len(lm)),
            "bin_log_mass": mid.tolist(), "bin_mean_n_virial": mean.tolist()}


# ---------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------
def _plt():
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg", "pdf", "svg", "ps", "cairo"):
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_cluster(pure, contaminated, *, target_log_mass=14.9):
    """The paper's Fig. 1: one cluster, pure (left) and contaminated (right)."""
    from ..phasespace import PhaseSpaceGrid

    plt = _plt()
    grid = PhaseSpaceGrid()
    keys_p = {(int(h), int(j)): i for i, (h, j) in
              enumerate(zip(pure.clusters["host_id"], pure.clusters["los_index"], strict=True))}
    cand = [i for i, (h, j) in enumerate(zip(contaminated.clusters["host_id"],
                                             contaminated.clusters["los_index"], strict=True))
            if (int(h), int(j)) in keys_p]
    if not cand:
        raise InvalidInputError("the pure and contaminated catalogues share no cluster")
    lm = contaminated.log_mass[cand]
    i_c = cand[int(np.argmin(np.abs(lm - target_log_mass)))]
    key = (int(contaminated.clusters["host_id"][i_c]),
           int(contaminated.clusters["los_index"][i_c]))
    i_p = keys_p[key]
    gp = pure.cluster(i_p)
    gc = contaminated.cluster(i_c)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), sharey=True, layout="constrained")
    mem = np.asarray(gc["member"])
    axes[0].scatter(gp["R"].value, gp["v"].value, s=8, c="C0", label="members")
    axes[1].scatter(gc["R"].value[mem], gc["v"].value[mem], s=8, c="C0", label="members")
    axes[1].scatter(gc["R"].value[~mem], gc["v"].value[~mem], s=10, c="C3", marker="x",
                    label="interlopers")
    r200 = float(contaminated.clusters["r200c"][i_c].to_value(R_UNIT))
    for ax, title in zip(axes, ("pure", "contaminated"), strict=True):
        ax.axvline(r200, color="0.5", ls=":", lw=1)
        ax.axhline(grid.v_max.value, color="0.7", lw=0.8)
        ax.axhline(-grid.v_max.value, color="0.7", lw=0.8)
        ax.set_xlim(0, 1.6)
        ax.set_ylim(-2600, 2600)
        ax.set_xlabel(r"$R$ [$h^{-1}$ Mpc]")
        ax.set_title(f"{title}: N = {len(gp) if title == 'pure' else len(gc)}")
        ax.legend(loc="lower right", fontsize=8)
    axes[0].set_ylabel(r"$v_{\rm los}$ [km/s]")
    fig.suptitle(f"mock cluster, log10[M200c/(h^-1 Msun)] = "
                 f"{contaminated.log_mass[i_c]:.2f}, r200c = {r200:.2f} (dotted)")
    return fig


def plot_mass_functions(catalogues):
    """The paper's Fig. 2: log M distributions of the training and test sets."""
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
    bins = np.linspace(13.5, 15.3, 37)
    for ax, split in zip(axes, ("train", "test"), strict=True):
        for kind, ls in (("pure", "-"), ("contaminated", "--")):
            cat = catalogues.get((kind, split))
            if cat is None:
                continue
            ax.hist(cat.log_mass, bins=bins, histtype="step", ls=ls, lw=1.5,
                    label=f"{kind} ({len(cat)})")
        ax.set_yscale("log")
        ax.set_xlabel(r"$\log_{10}[M_{200c} / (h^{-1} M_\odot)]$")
        ax.set_title(f"{split}ing set" if split == "train" else "test set")
        ax.legend(fontsize=8)
    axes[0].set_ylabel("clusters per bin")
    return fig


def plot_sigma_mass(log_mass, sigma, fit, *, redshift=0.117):
    """Biweight dispersion of pure mocks against mass, with Evrard et al. (2008)."""
    from astropy.cosmology import Planck13

    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4.5), layout="constrained")
    ok = np.isfinite(sigma)
    ax.scatter(log_mass[ok], sigma[ok], s=2, alpha=0.25, c="0.4", label="pure mocks")
    xs = np.linspace(13.5, 15.3, 50)
    e = Planck13.efunc(redshift)
    ax.plot(xs, EVRARD_SIGMA15 * (e * 10 ** (xs - 15)) ** EVRARD_ALPHA, "C3-",
            label="Evrard et al. 2008 (DM)")
    ax.plot(xs, fit["sigma_15"] * (e * 10 ** (xs - 15)) ** fit["slope"], "C0--",
            label=f"fit: slope {fit['slope']:.3f}, $\\sigma_{{15}}$ = {fit['sigma_15']:.0f} km/s")
    edges = np.linspace(13.5, 15.3, 10)
    mid = 0.5 * (edges[1:] + edges[:-1])
    med = [_nan_stat(np.nanmedian, sigma[(log_mass >= a) & (log_mass < b)])
           if np.any((log_mass >= a) & (log_mass < b)) else np.nan
           for a, b in zip(edges[:-1], edges[1:], strict=True)]
    ax.plot(mid, med, "ko", ms=4, label="median per bin")
    ax.set_yscale("log")
    ax.set_xlabel(r"$\log_{10}[M_{200c} / (h^{-1} M_\odot)]$")
    ax.set_ylabel(r"biweight $\sigma_v$ [km/s]")
    ax.legend(fontsize=8)
    return fig


def plot_interloper_fractions(tables):
    """Interloper fraction per mass bin."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4.2), layout="constrained")
    for k, (label, t) in enumerate(tables.items()):
        mid = 0.5 * (np.asarray(t["log_m_min"]) + np.asarray(t["log_m_max"])) + 0.02 * k
        ax.errorbar(mid, t["mean"], yerr=[np.asarray(t["mean"]) - np.asarray(t["p16"]),
                                          np.asarray(t["p84"]) - np.asarray(t["mean"])],
                    fmt="o-", capsize=3, label=f"{label}: cylinder")
        ax.plot(mid, t["mean_grid"], "s:", ms=4, label=f"{label}: 1.6 Mpc/h x 2200 km/s grid")
    ax.set_ylim(0, 1)
    ax.set_xlabel(r"$\log_{10}[M_{200c} / (h^{-1} M_\odot)]$")
    ax.set_ylabel("interloper fraction (mean, 16-84 %)")
    ax.legend(fontsize=7)
    return fig


def plot_interloper_density(stack, comparison):
    """Stacked interloper density vs the universal form of Mamon et al. (2010)."""
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.3), layout="constrained")
    g, err, X, U = stack["g"], stack["g_err"], stack["x"], stack["u"]
    uu = np.linspace(0, U.max() + 0.3, 200)
    s = comparison["scale"]
    for k, i in enumerate(range(0, X.size, 2)):
        c = f"C{k}"
        ok = np.isfinite(g[i])
        axes[0].errorbar(U[ok], g[i, ok], yerr=err[i, ok], fmt="o", color=c, capsize=2,
                         label=f"mocks, X = {X[i]:.1f}")
        axes[0].plot(uu, mbm10_interloper_density(X[i], uu), "-", color=c, lw=1,
                     label="MBM10" if k == 0 else None)
        axes[0].plot(uu, s * mbm10_interloper_density(X[i], uu), "--", color=c, lw=1,
                     label=f"MBM10 x {s:.2f}" if k == 0 else None)
    axes[0].set_yscale("log")
    axes[0].set_xlabel(r"$|v_{\rm los}| / v_{200c}$")
    axes[0].set_ylabel(r"$\hat g_i$ [per $N_v$, $r_{200}^2$, $v_{200}$]")
    axes[0].legend(fontsize=7)
    axes[0].set_title(f"{stack['n_clusters']} clusters, "
                      f"log M >= {stack['log_mass_min']:.1f}; width sigma_i = "
                      f"{comparison['sigma_i']:.2f} (MBM10 {comparison['sigma_i_mbm10']:.2f})",
                      fontsize=9)
    # velocity profile averaged over X and surface density against X
    axes[1].plot(U, comparison["u_profile"], "ko-", label="mocks: density vs u (mean over X)")
    axes[1].plot(U, comparison["u_profile_mbm10"], "C3-", label="MBM10")
    A = np.asarray(comparison["A"])
    Am = np.asarray(comparison["A_mbm10"])
    axes[1].plot(X, A / A[0], "bs--", label="mocks: fitted A(X) / A(0.1)")
    axes[1].plot(X, Am / Am[0], "C1-", label="MBM10: A(X) / A(0.1)")
    axes[1].set_xlabel(r"$|v_{\rm los}| / v_{200c}$  or  $X = R / r_{200c}$")
    axes[1].set_ylabel("normalised")
    axes[1].legend(fontsize=7)
    axes[1].set_title(f"shape: rms ln residual {comparison['rms_log_residual']:.2f} after"
                      f" scaling by {s:.2f}", fontsize=9)
    return fig


def plot_richness(catalogue, fit, universe=None):
    """Galaxies inside r200c against mass, with the input relation."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4.2), layout="constrained")
    lm = catalogue.log_mass
    nv = np.asarray(catalogue.clusters["n_virial"], float)
    ax.scatter(lm, np.maximum(nv, 0.5), s=2, alpha=0.3, c="0.4", label="hosts (N_v)")
    ax.plot(fit["bin_log_mass"], fit["bin_mean_n_virial"], "ko", ms=4, label="mean per bin")
    xs = np.linspace(13.5, 15.3, 50)
    ax.plot(xs, fit["N_15"] * 10 ** (fit["slope"] * (xs - 15)), "C0--",
            label=f"fit: N15 = {fit['N_15']:.0f}, slope {fit['slope']:.2f}")
    if universe is not None:
        ax.plot(xs, universe.richness_15 * 10 ** (universe.richness_slope * (xs - 15)), "C3-",
                label=f"input: N15 = {universe.richness_15:.0f},"
                      f" slope {universe.richness_slope:.2f}")
    ax.axhline(10, color="0.6", ls=":", lw=1)
    ax.set_yscale("log")
    ax.set_xlabel(r"$\log_{10}[M_{200c} / (h^{-1} M_\odot)]$")
    ax.set_ylabel(r"galaxies inside $r_{200c}$")
    ax.legend(fontsize=8)
    return fig


# ---------------------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------------------
def _json_safe(obj):
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj


def _table_rows(t):
    return [{c: (row[c].item() if hasattr(row[c], "item") else row[c]) for c in t.colnames}
            for row in t]


def run_validation(output, *, n_train=4000, n_test=4000, seed=2020, jobs=1,
                   catalogue_dir=None, docs_dir=None, progress=None, **params):
    """Generate catalogues, compute the validation numbers, write figures and JSON.

    Parameters
    ----------
    output : str or path-like
        Directory for ``summary.json`` and the figures (`FIGURES`).
    n_train, n_test : int
        Clusters per training / test catalogue (four catalogues are made).
    seed, jobs, progress, **params
        As in `~clustermass.mocks.generate`.
    catalogue_dir : str or path-like, optional
        Where the catalogues go (default ``output/catalogues``); existing files
        made with the same settings are reused.
    docs_dir : str or path-like, optional
        Also copy the figures there (e.g. ``docs/_static/mocks``).

    Returns
    -------
    summary : dict
        What ``summary.json`` holds.
    """
    from .catalogue import generate, load
    from .universe import SyntheticUniverse

    out = pathlib.Path(os.fspath(output))
    out.mkdir(parents=True, exist_ok=True)
    cdir = pathlib.Path(os.fspath(catalogue_dir)) if catalogue_dir else out / "catalogues"
    cdir.mkdir(parents=True, exist_ok=True)
    uni = SyntheticUniverse(**params)
    cats, paths = {}, {}
    for split, n in (("train", n_train), ("test", n_test)):
        for kind in ("pure", "contaminated"):
            path = cdir / f"{kind}_{split}_n{n}_s{seed}.h5"
            cat = None
            if path.exists():
                try:
                    cat = load(path)
                    if cat.meta.get("universe") != uni.to_dict() or len(cat) != n:
                        cat = None
                except ClusterMassError:
                    cat = None
            if cat is None:
                generate(path, kind=kind, split=split, n_clusters=n, seed=seed, jobs=jobs,
                         progress=progress, overwrite=True, universe=uni)
                cat = load(path)
            cats[(kind, split)] = cat
            paths[f"{kind}_{split}"] = path.name

    z = uni.redshift
    summary = {"catalogues": paths, "n_train": n_train, "n_test": n_test, "seed": seed,
               "universe": uni.to_dict()}
    # Evrard et al. (2008): pure mocks
    evrard = {}
    sig_all, lm_all, w_all = [], [], []
    for split in ("train", "test"):
        cat = cats[("pure", split)]
        sig = biweight_dispersions(cat)
        w = host_weights(cat)
        evrard[split] = fit_msigma(cat.log_mass, sig, redshift=z, cosmology=uni.cosmology,
                                   weights=w)
        sig_all.append(sig)
        lm_all.append(cat.log_mass)
        w_all.append(w)
    sig_all = np.concatenate(sig_all)
    lm_all = np.concatenate(lm_all)
    w_all = np.concatenate(w_all)
    evrard["all"] = fit_msigma(lm_all, sig_all, redshift=z, cosmology=uni.cosmology,
                               weights=w_all)
    evrard["all_unweighted"] = fit_msigma(lm_all, sig_all, redshift=z, cosmology=uni.cosmology)
    n_all = np.concatenate([cats[("pure", s)].n_galaxies for s in ("train", "test")])
    rich20 = n_all >= 20
    evrard["all_n_ge_20"] = fit_msigma(lm_all[rich20], sig_all[rich20], redshift=z,
                                       cosmology=uni.cosmology, weights=w_all[rich20])
    evrard["reference"] = {"sigma_15": EVRARD_SIGMA15, "slope": EVRARD_ALPHA,
                           "source": "Evrard et al. 2008, ApJ 672, 122"}
    summary["evrard"] = evrard
    # interloper fractions
    fr = {split: interloper_fractions(cats[("contaminated", split)])
          for split in ("train", "test")}
    summary["interloper_fraction"] = {k: _table_rows(v) for k, v in fr.items()}
    # Mamon et al. (2010)
    stack = stack_interloper_density(cats[("contaminated", "train")], log_mass_min=14.0)
    comp = compare_mbm10(stack)
    summary["mbm10"] = {**comp, "n_clusters": stack["n_clusters"],
                        "log_mass_min": stack["log_mass_min"],
                        "g": stack["g"].tolist(), "x": stack["x"].tolist(),
                        "source": "Mamon, Biviano & Murante 2010, A&A 520, A30"}
    # richness
    rich = fit_richness(cats[("contaminated", "train")])
    summary["richness"] = {**rich, "input_N_15": uni.richness_15,
                           "input_slope": uni.richness_slope}
    # figures
    figs = {
        "fig1_cluster.png": plot_cluster(cats[("pure", "train")],
                                         cats[("contaminated", "train")]),
        "fig2_mass_functions.png": plot_mass_functions(cats),
        "sigma_mass.png": plot_sigma_mass(lm_all, sig_all, evrard["all"], redshift=z),
        "interloper_fraction.png": plot_interloper_fractions(
            {"train": fr["train"], "test": fr["test"]}),
        "interloper_density.png": plot_interloper_density(stack, comp),
        "richness_mass.png": plot_richness(cats[("contaminated", "train")], rich, uni),
    }
    plt = _plt()
    for name, fig in figs.items():
        fig.savefig(out / name, dpi=110, metadata={"Software": None})
        plt.close(fig)
    summary["figures"] = list(figs)
    with open(out / "summary.json", "w") as f:
        json.dump(_json_safe(summary), f, indent=1, sort_keys=True)
    if docs_dir:
        d = pathlib.Path(os.fspath(docs_dir))
        d.mkdir(parents=True, exist_ok=True)
        for name in figs:
            shutil.copyfile(out / name, d / name)
        shutil.copyfile(out / "summary.json", d / "summary.json")
    log.info(f"mock validation written to {out}")
    return summary


def build_parser(parser=None):
    """Arguments of ``clustermass mock-validate`` / ``scripts/validate_mocks.py``."""
    if parser is None:
        parser = argparse.ArgumentParser(
            prog="validate_mocks",
            description="Validate the synthetic-universe mocks: Evrard et al. (2008) M-sigma,"
                        " interloper fractions, Mamon et al. (2010) interloper density,"
                        " richness; writes figures and summary.json.")
    parser.add_argument("--output", "-o", required=True, help="output directory")
    parser.add_argument("--n-train", type=int, default=4000,
                        help="clusters per training catalogue (default %(default)s)")
    parser.add_argument("--n-test", type=int, default=4000,
                        help="clusters per test catalogue (default %(default)s)")
    parser.add_argument("--seed", type=int, default=2020, help="seed (default %(default)s)")
    parser.add_argument("--jobs", "-j", type=int, default=1, help="worker processes")
    parser.add_argument("--catalogues", metavar="DIR", default=None,
                        help="where to keep the catalogues (default OUTPUT/catalogues)")
    parser.add_argument("--docs", metavar="DIR", default=None,
                        help="also copy the figures here (e.g. docs/_static/mocks)")
    return parser


def _run_from_args(args):
    s = run_validation(args.output, n_train=args.n_train, n_test=args.n_test, seed=args.seed,
                       jobs=args.jobs, catalogue_dir=args.catalogues, docs_dir=args.docs)
    ev = s["evrard"]["all"]
    mb = s["mbm10"]
    print(f"Evrard (pure, train+test, one weight per host): slope {ev['slope']:.3f}"
          f" +- {ev['slope_err']:.3f}, sigma_15 {ev['sigma_15']:.0f} km/s"
          f" ({ev['normalisation_ratio']:.3f} x 1082.9)")
    ev20 = s["evrard"]["all_n_ge_20"]
    print(f"Evrard (pure, N >= 20): slope {ev20['slope']:.3f} +- {ev20['slope_err']:.3f},"
          f" sigma_15 {ev20['sigma_15']:.0f} km/s ({ev20['normalisation_ratio']:.3f} x 1082.9)")
    print(f"MBM10 (contaminated train, log M >= 14): scale {mb['scale']:.2f}, rms ln residual"
          f" {mb['rms_log_residual']:.2f}, sigma_i {mb['sigma_i']:.2f}"
          f" (MBM10 {mb['sigma_i_mbm10']:.2f}), B {mb['B']:.4f} (0.0075)")
    for split, rows in s["interloper_fraction"].items():
        print(f"interloper fraction ({split}): " + ", ".join(
            f"[{r['log_m_min']:.1f},{r['log_m_max']:.1f}) {r['mean']:.2f}" for r in rows))
        print("  in the virial cylinder: " + ", ".join(
            f"{r['virial_cylinder']:.2f}" for r in rows))
    print(f"wrote {args.output}/summary.json and {len(s['figures'])} figures")
    return 0


def main(argv=None):
    """Entry point of ``scripts/validate_mocks.py``."""
    args = build_parser().parse_args(argv)
    try:
        return _run_from_args(args)
    except ClusterMassError as exc:
        print(f"validate_mocks: error: {exc}", file=sys.stderr)
        return 2
