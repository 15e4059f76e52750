"""Numbers that validate the mock catalogues against published simulation results.

* `biweight_dispersions`, `host_weights` and `fit_msigma`: the velocity
  dispersion-mass relation of pure mocks against the dark-matter relation of
  Evrard et al. (2008, ApJ 672, 122);
* `interloper_fractions`: interlopers per mass bin in contaminated mocks;
* `stack_interloper_density` and `compare_mbm10`: the stacked projected
  phase-space density of interlopers against the universal form of Mamon,
  Biviano & Murante (2010, A&A 520, A30);
* `fit_richness`: the richness-mass relation against the input one.

The figures are drawn by `clustermass.mocks.plots`; `clustermass.mocks.report`
runs everything and writes the summary (``clustermass mock-validate``).
"""

import warnings

import numpy as np
from astropy.table import QTable

from .._stats import biweight_dispersion
from .._units import EVRARD_ALPHA, EVRARD_SIGMA15, R_UNIT, V_UNIT
from ..exceptions import InvalidInputError
from ..phasespace import PhaseSpaceGrid, resolve_cosmology
from ..priors import MDPL2_UNIVERSE
from .profiles import (
    MBM10_BACKGROUND,
    mbm10_amplitude,
    mbm10_interloper_density,
    mbm10_width,
)

__all__ = [
    "biweight_dispersions",
    "host_weights",
    "fit_msigma",
    "interloper_fractions",
    "stack_interloper_density",
    "compare_mbm10",
    "fit_richness",
    "binned_median",
    "DEFAULT_MASS_BINS",
]

#: Edges of the log10[M200c / (h^-1 Msun)] bins of the validation tables.
DEFAULT_MASS_BINS = np.array([13.5, 13.8, 14.1, 14.4, 14.7, 15.0, 15.3])


def _nan_stat(func, a, **kwargs):
    """``func`` (np.nanmean, np.nanmedian) without the warning for all-NaN input."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return func(a, **kwargs)


def _arrays(catalogue):
    order, starts, stops = catalogue.group_slices()
    g = catalogue.galaxies
    R = np.asarray(g["R"].to_value(R_UNIT), float)[order]
    v = np.asarray(g["v"].to_value(V_UNIT), float)[order]
    member = np.asarray(g["member"], bool)[order]
    return R, v, member, starts, stops


def biweight_dispersions(catalogue, *, min_galaxies=3):
    """Biweight velocity dispersion (c = 9, Beers et al. 1990) of every cluster, km/s.

    NaN where a cluster has fewer than ``min_galaxies`` galaxies.
    """
    _, v, _, starts, stops = _arrays(catalogue)
    out = np.full(len(starts), np.nan)
    for i, (a, b) in enumerate(zip(starts, stops, strict=True)):
        if b - a >= min_galaxies:
            out[i] = biweight_dispersion(v[a:b])
    return out


def host_weights(catalogue):
    """1 / (clusters of the same host): every host counts once in a fit.

    The flat training set gives rare massive hosts many lines of sight (Ho et
    al. 2019); unweighted fits would be dominated by a few of them.
    """
    _, inv, counts = np.unique(catalogue.host_id, return_inverse=True, return_counts=True)
    return 1.0 / counts[inv]


def fit_msigma(log_mass, sigma, *, redshift=MDPL2_UNIVERSE.redshift, cosmology=None,
               weights=None):
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
    >>> from clustermass.mocks.fits import fit_msigma
    >>> from clustermass.priors import MDPL2_UNIVERSE
    >>> lm = np.linspace(13.5, 15.3, 50)
    >>> from astropy.cosmology import Planck13
    >>> s = 1082.9 * (Planck13.efunc(MDPL2_UNIVERSE.redshift) * 10**(lm - 15))**0.3361
    >>> fit = fit_msigma(lm, s, cosmology=Planck13)
    >>> round(fit['slope'], 4), round(fit['sigma_15'], 1)
    (0.3361, 1082.9)
    """
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
    X = R / r200c and u = ``|v| / v200c``; each (X, u) bin collects the clusters
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

    p0 = np.r_[np.log(0.1) * np.ones(X.size), 0.6, np.log(MBM10_BACKGROUND)]
    sig_ln = 1.0 / np.sqrt(np.where(w > 0, w, 1.0))
    fit = least_squares(lambda p: ((np.log(model(p)) - np.log(np.where(ok, g, 1.0)))
                                   / sig_ln)[ok], p0)
    A = np.exp(fit.x[: X.size])
    A_mbm = mbm10_amplitude(X)
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
        "sigma_i_mbm10": float(np.mean(mbm10_width(X))),
        "B": float(np.exp(fit.x[-1])),
        "B_mbm10": MBM10_BACKGROUND,
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



def binned_median(x, y, edges):
    """Median of ``y`` (NaN ignored) in each bin ``[a, b)`` of ``x``; NaN for empty bins.

    Returns
    -------
    mid, median : `~numpy.ndarray`
        Bin centres and medians, ``len(edges) - 1`` each.
    """
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    edges = np.asarray(edges, float)
    mid = 0.5 * (edges[1:] + edges[:-1])
    med = [_nan_stat(np.nanmedian, y[(x >= a) & (x < b)]) if np.any((x >= a) & (x < b))
           else np.nan for a, b in zip(edges[:-1], edges[1:], strict=True)]
    return mid, np.asarray(med, float)
