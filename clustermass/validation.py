"""Validation metrics of mass estimators on held-out mock clusters.

Everything here works on plain arrays: the true log masses of the test
clusters, and for each estimator either posterior densities tabulated on a
common log-mass grid or point estimates. The metrics follow Kodi Ramanah et al.
(2020, MNRAS 499, 1985, section 4) and go beyond them:

* per-bin distribution of point predictions (mean, 16/84 and 2.5/97.5
  percentiles; their Fig. 5) and the residual scatter per bin;
* the fit of their equation (8),
  ``sigma^2 = sigma_stat^2 (N_mem / 100)^-1 + sigma_sys^2``, to the squared log
  residuals as a function of the number of galaxies (their Fig. 6);
* coverage of the central 68 % and 95 % credible intervals, overall and per bin;
* the probability integral transform (PIT) of the true mass, whose histogram
  is flat for calibrated posteriors (e.g. Cook, Gelman & Rubin 2006;
  Talts et al. 2018);
* the mean negative log-likelihood of the true log mass (per dex).
"""

import dataclasses

import numpy as np
from astropy.table import QTable

from ._stats import biweight_dispersion, cdf_rows, quantiles_rows
from .exceptions import InvalidInputError

__all__ = [
    "posterior_summaries",
    "binned_metrics",
    "fit_scatter_model",
    "calibration",
    "evaluate",
    "evaluate_catalogue",
    "EvaluationResults",
    "msigma_point_estimates",
    "thinning_shift",
    "report_table",
    "to_json_dict",
    "DEFAULT_BINS",
]

#: Log-mass bin edges, log10[M200c / (h^-1 Msun)], for per-bin metrics.
DEFAULT_BINS = np.array([13.5, 13.8, 14.1, 14.4, 14.8, 15.3])


def posterior_summaries(pdfs, log_mass_grid, log_m_true=None):
    """Mean, std, quantiles, PIT and NLL of many posteriors on one grid.

    Parameters
    ----------
    pdfs : ndarray
        Shape ``(n_clusters, n_grid)``, densities (any normalisation).
    log_mass_grid : ndarray
        Shape ``(n_grid,)``.
    log_m_true : ndarray, optional
        True log masses; adds ``pit`` and ``nll`` columns.

    Returns
    -------
    table : `~astropy.table.QTable`
        Columns ``mean, std, median, q02, q16, q84, q97`` (and ``pit, nll``).
    """
    grid = np.asarray(log_mass_grid, float)
    pdfs = np.asarray(pdfs, float)
    if pdfs.ndim != 2 or pdfs.shape[1] != grid.size:
        raise InvalidInputError("pdfs must have shape (n_clusters, len(log_mass_grid))")
    p, cdf = cdf_rows(pdfs, grid)
    mean = np.trapezoid(p * grid, grid, axis=1)
    std = np.sqrt(np.trapezoid(p * (grid - mean[:, None]) ** 2, grid, axis=1))
    q = quantiles_rows(cdf, grid, [0.02275, 0.15865, 0.5, 0.84135, 0.97725])
    t = QTable({"mean": mean, "std": std, "median": q[:, 2], "q02": q[:, 0],
                "q16": q[:, 1], "q84": q[:, 3], "q97": q[:, 4]})
    if log_m_true is not None:
        truth = np.asarray(log_m_true, float)
        t["pit"] = np.array([np.interp(x, grid, c) for x, c in zip(truth, cdf, strict=True)])
        dens = np.array([np.interp(x, grid, row, left=0, right=0)
                         for x, row in zip(truth, p, strict=True)])
        t["nll"] = -np.log(np.maximum(dens, 1e-300))
    return t


def fit_scatter_model(residuals, n_members, *, n_bins=8):
    """Fit ``sigma^2 = sigma_stat^2 (N/100)^-1 + sigma_sys^2`` (KR+2020 eq. 8).

    The residuals are grouped into bins of N holding equal numbers of clusters;
    the variance in each bin is fitted by weighted linear least squares in
    ``(100/N, 1)``, weights from the sampling variance of a variance
    (``2 sigma^4 / (n - 1)``).

    Returns
    -------
    sigma_stat, sigma_sys : float
        In dex; a coefficient that fits negative is returned as 0.
    """
    r = np.asarray(residuals, float)
    n = np.asarray(n_members, float)
    if r.shape != n.shape or r.size < 4 * n_bins:
        raise InvalidInputError(f"need at least {4 * n_bins} residuals with their N")
    edges = np.unique(np.quantile(n, np.linspace(0, 1, n_bins + 1)))
    which = np.clip(np.searchsorted(edges, n, side="right") - 1, 0, len(edges) - 2)
    x, y, w = [], [], []
    for k in range(len(edges) - 1):
        sel = which == k
        if sel.sum() < 4:
            continue
        var = np.var(r[sel], ddof=1)
        x.append(np.mean(100.0 / n[sel]))
        y.append(var)
        w.append((sel.sum() - 1) / (2 * max(var, 1e-12) ** 2))
    x, y, w = map(np.asarray, (x, y, w))
    design = np.stack([x, np.ones_like(x)], axis=1) * np.sqrt(w)[:, None]
    coef, *_ = np.linalg.lstsq(design, y * np.sqrt(w), rcond=None)
    a, b = np.maximum(coef, 0.0)
    return float(np.sqrt(a)), float(np.sqrt(b))


def calibration(summary, log_m_true):
    """Coverage of the central 68 % and 95 % intervals and the PIT histogram."""
    truth = np.asarray(log_m_true, float)
    in68 = (truth >= summary["q16"]) & (truth <= summary["q84"])
    in95 = (truth >= summary["q02"]) & (truth <= summary["q97"])
    pit_hist, _ = np.histogram(summary["pit"], bins=10, range=(0, 1))
    return {
        "coverage_68": float(np.mean(in68)),
        "coverage_95": float(np.mean(in95)),
        "pit_histogram": (pit_hist / len(truth)).tolist(),
    }


def binned_metrics(log_m_true, prediction, *, summary=None, bins=DEFAULT_BINS):
    """Per-bin statistics of point predictions (and intervals, when given).

    Returns
    -------
    table : `~astropy.table.QTable`
        One row per bin of true log mass: ``lo, hi, n, mean_pred, p16, p84,
        p02, p97, bias, scatter`` (residual standard deviation, dex), ``rms``
        (root-mean-square residual, dex: with the bias included, the fair
        comparison for an estimator whose predictions do not follow the truth
        within the bin), and ``coverage_68, coverage_95, mean_nll`` when
        ``summary`` is given.
    """
    truth = np.asarray(log_m_true, float)
    pred = np.asarray(prediction, float)
    has_nll = summary is not None and "nll" in summary.colnames
    rows = []
    for lo, hi in zip(bins[:-1], bins[1:], strict=True):
        sel = (truth >= lo) & (truth < hi)
        row = {"lo": lo, "hi": hi, "n": int(sel.sum())}
        if sel.sum() >= 2:
            res = pred[sel] - truth[sel]
            row.update(
                mean_pred=float(np.mean(pred[sel])),
                p16=float(np.percentile(pred[sel], 15.865)),
                p84=float(np.percentile(pred[sel], 84.135)),
                p02=float(np.percentile(pred[sel], 2.275)),
                p97=float(np.percentile(pred[sel], 97.725)),
                bias=float(np.mean(res)),
                scatter=float(np.std(res, ddof=1)),
                rms=float(np.sqrt(np.mean(res**2))),
            )
            if summary is not None:
                t = truth[sel]
                row["coverage_68"] = float(np.mean((t >= summary["q16"][sel])
                                                   & (t <= summary["q84"][sel])))
                row["coverage_95"] = float(np.mean((t >= summary["q02"][sel])
                                                   & (t <= summary["q97"][sel])))
                if has_nll:
                    row["mean_nll"] = float(np.mean(summary["nll"][sel]))
        rows.append(row)
    keys = ["lo", "hi", "n", "mean_pred", "p16", "p84", "p02", "p97", "bias", "scatter", "rms"]
    if summary is not None:
        keys += ["coverage_68", "coverage_95"]
        if has_nll:
            keys.append("mean_nll")
    t = QTable({k: [r.get(k, np.nan) for r in rows] for k in keys})
    for k in keys:
        if k not in ("n",):
            t[k].info.format = ".2f" if k in ("lo", "hi") else ".3f"
    return t


def _scatter_key(high_mass):
    """Key of the high-mass scatter in the metrics of `evaluate`."""
    return f"scatter_logM_ge_{high_mass}"


def evaluate(log_m_true, *, n_members, pdfs=None, log_mass_grid=None, prediction=None,
             bins=DEFAULT_BINS, high_mass=14.8):
    """All metrics of one estimator on one test set.

    Give either posterior densities (``pdfs`` on ``log_mass_grid``) or point
    predictions (``prediction``; then no calibration metrics).

    Returns
    -------
    metrics : dict
        ``bias, scatter, scatter_high_mass, sigma_stat, sigma_sys`` (dex), and for
        posteriors ``coverage_68, coverage_95, pit_histogram, mean_nll``; plus
        ``per_bin`` (a `~astropy.table.QTable`) and ``summary`` (per cluster).
    """
    truth = np.asarray(log_m_true, float)
    summary = None
    if pdfs is not None:
        summary = posterior_summaries(pdfs, log_mass_grid, truth)
        prediction = summary["mean"]
    if prediction is None:
        raise InvalidInputError("give pdfs or point predictions")
    prediction = np.asarray(prediction, float)
    res = prediction - truth
    high = truth >= high_mass
    stat, sys_ = fit_scatter_model(res, n_members)
    out = {
        "n_clusters": int(truth.size),
        "bias": float(np.mean(res)),
        "scatter": float(np.std(res, ddof=1)),
        _scatter_key(high_mass): float(np.std(res[high], ddof=1))
        if high.sum() > 1 else float("nan"),
        f"n_logM_ge_{high_mass}": int(high.sum()),
        "sigma_stat": stat,
        "sigma_sys": sys_,
        "per_bin": binned_metrics(truth, prediction, summary=summary, bins=bins),
        "prediction": prediction,
    }
    if summary is not None:
        out.update(calibration(summary, truth))
        out["mean_nll"] = float(np.mean(summary["nll"]))
        out["summary"] = summary
    return out


def msigma_point_estimates(catalogue, grid, *, redshift, cosmology=None):
    """M-sigma log masses of every cluster of a mock catalogue (no bootstrap).

    Uses the galaxies inside ``grid``'s window, as the flows do. ``redshift`` is
    one value or one per cluster.

    Returns
    -------
    log_m, n_members : ndarray
    """
    from .baselines import msigma_log_mass

    gal = catalogue.galaxies
    R = np.asarray(gal["R"].value if hasattr(gal["R"], "unit") else gal["R"], float)
    v = np.asarray(gal["v"].value if hasattr(gal["v"], "unit") else gal["v"], float)
    cid = np.asarray(gal["cluster_id"])
    inside = grid.contains(R, v)
    ids = np.asarray(catalogue.clusters["cluster_id"])
    order = np.argsort(cid[inside], kind="stable")
    cid_in, v_in = cid[inside][order], v[inside][order]
    starts = np.searchsorted(cid_in, ids, side="left")
    stops = np.searchsorted(cid_in, ids, side="right")
    sigma = np.full(ids.size, np.nan)
    for k, (a, b) in enumerate(zip(starts, stops, strict=True)):
        if b - a >= 3:
            sigma[k] = biweight_dispersion(v_in[a:b])
    sigma = np.where(np.isfinite(sigma) & (sigma > 0), sigma, 1.0)
    z = np.broadcast_to(np.asarray(redshift, float), sigma.shape)
    log_m = np.empty(sigma.shape)
    for zi in np.unique(z):  # one E(z) per redshift of the catalogue
        rows = z == zi
        log_m[rows] = msigma_log_mass(sigma[rows], float(zi), cosmology=cosmology)
    return log_m, (stops - starts).astype(int)


def _redshift_kw(model, redshift):
    """``{"redshift": redshift}`` for a flow that conditions on it; ``{}`` for any other
    model (whose ``pdf_grid`` takes no redshift)."""
    return {"redshift": redshift} if getattr(model, "conditions_on_redshift", False) else {}


def thinning_shift(model, catalogue, fraction, *, n=None, seed=0, min_galaxies=10):
    """How far posterior means move when the clusters' galaxies are randomly thinned.

    Every galaxy of the first ``n`` clusters of ``catalogue`` is kept with
    probability ``fraction`` (`~clustermass.mocks.MockCatalogue.histograms`
    with ``thin``); the shift of each posterior mean (flat prior) is expressed
    in units of the posterior standard deviation of the full cluster. Clusters
    left with fewer than ``min_galaxies`` galaxies are not counted.

    Returns
    -------
    result : dict
        ``n_clusters`` (counted), ``mean_shift_sigma``, ``mean_abs_shift_sigma``,
        ``median_abs_shift_sigma``.
    """
    from .posterior import default_log_mass_grid

    grid = default_log_mass_grid()
    full = catalogue.histograms(model.grid)[:n]
    thin = catalogue.histograms(model.grid, thin=fraction, seed=seed)[:n]
    ok = thin.reshape(len(thin), -1).sum(axis=1) >= min_galaxies
    kw = _redshift_kw(model, catalogue.redshift[:n][ok])
    before = posterior_summaries(model.pdf_grid(full[ok], grid, **kw), grid)
    after = posterior_summaries(model.pdf_grid(thin[ok], grid, **kw), grid)
    shift = (np.asarray(after["mean"]) - np.asarray(before["mean"])) / np.asarray(before["std"])
    return {
        "n_clusters": int(ok.sum()),
        "mean_shift_sigma": float(np.mean(shift)),
        "mean_abs_shift_sigma": float(np.mean(np.abs(shift))),
        "median_abs_shift_sigma": float(np.median(np.abs(shift))),
    }


def _as_members(model):
    """The members of an ensemble entry (a list or tuple of models), or ``[model]``."""
    return list(model) if isinstance(model, (list, tuple)) else [model]


def evaluate_catalogue(models, catalogue, *, include_msigma=True, bins=DEFAULT_BINS,
                       high_mass=14.8, prior="flat"):
    """Evaluate flows (and M-sigma) on the same held-out mock catalogue.

    Parameters
    ----------
    models : dict
        ``{label: MassFlow}``. A value may also be a list of flows on one
        phase-space grid: an equal-weight ensemble whose posterior is the
        average of the members' (re-weighted) densities, a "deep ensemble"
        (Lakshminarayanan, Pritzel & Blundell 2017).
    catalogue : `~clustermass.mocks.MockCatalogue`
        Held-out test clusters.
    include_msigma : bool, optional
        Also evaluate the Evrard et al. (2008) M-sigma relation
        (`msigma_point_estimates`), labelled ``"msigma"``.
    bins : ndarray, optional
        Log-mass bin edges of the per-bin metrics.
    high_mass : float, optional
        Threshold of the high-mass scatter.
    prior : {'flat', 'mass_function'}, optional
        Prior of the flow posteriors (`clustermass.priors.reweight`).
        ``'flat'`` (default): the training prior, as in Kodi Ramanah et al.
        (2020) and `clustermass.core.ClusterMass.infer`; its intervals should
        cover at the nominal rate in every bin of true mass.
        ``'mass_function'``: the test clusters' own population prior, which
        minimises the mean negative log-likelihood over the whole test set but
        pulls massive clusters low (intervals under-cover at fixed high mass).

    Returns
    -------
    results : `EvaluationResults`
        The true log masses, the numbers of galaxies in the window and the
        metrics of every estimator (`evaluate`), in the order of ``models``
        with ``"msigma"`` last.
    """
    from .posterior import default_log_mass_grid
    from .priors import MDPL2_UNIVERSE, reweight

    truth = np.asarray(catalogue.log_mass, float)
    estimators = {}
    n_members = None
    grid0 = None
    lm_grid = default_log_mass_grid()
    # each cluster's own redshift (catalogues drawn across redshifts), else the catalogue's
    if "redshift" in catalogue.clusters.colnames:
        redshift = catalogue.redshift
    else:
        redshift = np.full(len(truth), float(catalogue.meta.get("redshift",
                                                                 MDPL2_UNIVERSE.redshift)))
    hists_by_grid = {}  # models on the same grid share the binning of the catalogue
    pdfs_by_model = {}  # a model in several entries (e.g. an ensemble) is run once

    def posteriors(model):
        if id(model) not in pdfs_by_model:
            if model.grid not in hists_by_grid:
                hists_by_grid[model.grid] = catalogue.histograms(model.grid)
            pdfs = model.pdf_grid(hists_by_grid[model.grid], lm_grid,
                                  **_redshift_kw(model, redshift))
            # as `MassFlow.posteriors` (what `ClusterMass.infer` returns): zero outside
            # the training support, the prior in the model's training universe
            pdfs_by_model[id(model)] = reweight(
                pdfs, lm_grid, prior, redshift=redshift,
                universe=getattr(model, "training_universe", None),
                support=getattr(model, "training_support", None))
        return pdfs_by_model[id(model)]

    for label, model in models.items():
        members = _as_members(model)
        if any(m.grid != members[0].grid for m in members):
            raise InvalidInputError(f"the members of ensemble {label!r} must share one"
                                    " phase-space grid")
    for label, model in models.items():
        members = _as_members(model)
        grid0 = members[0].grid
        pdfs = posteriors(members[0])
        for m in members[1:]:
            pdfs = pdfs + posteriors(m)
        if len(members) > 1:
            pdfs = pdfs / len(members)
        hists = hists_by_grid[grid0]
        n_members = hists.reshape(len(hists), -1).sum(axis=1)
        estimators[label] = evaluate(truth, n_members=n_members, pdfs=pdfs,
                                     log_mass_grid=lm_grid, bins=bins, high_mass=high_mass)
    if include_msigma:
        from .phasespace import PhaseSpaceGrid

        grid = PhaseSpaceGrid() if grid0 is None else grid0
        log_m, n_ms = msigma_point_estimates(catalogue, grid, redshift=redshift)
        estimators["msigma"] = evaluate(truth, n_members=n_ms, prediction=log_m, bins=bins,
                                        high_mass=high_mass)
        if n_members is None:
            n_members = n_ms
    return EvaluationResults(truth=truth, n_members=n_members, estimators=estimators,
                             high_mass=high_mass)


@dataclasses.dataclass(frozen=True)
class EvaluationResults:
    """Metrics of several mass estimators on the same test clusters.

    What `evaluate_catalogue` (and ``clustermass evaluate``) returns.

    Parameters
    ----------
    truth : ndarray
        True log10[M200c / (h^-1 Msun)] of the test clusters.
    n_members : ndarray
        Number of galaxies of each test cluster in the phase-space window.
    estimators : dict
        ``{label: metrics}``, ``metrics`` from `evaluate` (per-bin table in
        ``"per_bin"``, point predictions in ``"prediction"`` and, for
        posteriors, the per-cluster `~astropy.table.QTable` in ``"summary"``).
    high_mass : float, optional
        Threshold of the high-mass scatter (`evaluate`).
    """

    truth: np.ndarray
    n_members: np.ndarray
    estimators: dict
    high_mass: float = 14.8

    @property
    def labels(self):
        """Labels of the estimators, in order."""
        return tuple(self.estimators)

    def headline(self, label):
        """The headline metrics of one estimator as a dict with fixed keys.

        ``n_clusters, bias, scatter, scatter_high_mass, sigma_stat, sigma_sys,
        coverage_68, coverage_95, mean_nll`` (the last three NaN for point
        estimators).
        """
        m = self.estimators[label]
        return {
            "n_clusters": m["n_clusters"],
            "bias": m["bias"],
            "scatter": m["scatter"],
            "scatter_high_mass": m[_scatter_key(self.high_mass)],
            "sigma_stat": m["sigma_stat"],
            "sigma_sys": m["sigma_sys"],
            "coverage_68": m.get("coverage_68", np.nan),
            "coverage_95": m.get("coverage_95", np.nan),
            "mean_nll": m.get("mean_nll", np.nan),
        }

    def report_table(self):
        """One row per estimator with its `headline` metrics (a `~astropy.table.QTable`)."""
        rows = [{"estimator": label, **self.headline(label)} for label in self.estimators]
        t = QTable(rows=[list(r.values()) for r in rows], names=list(rows[0]))
        for col in t.colnames[2:]:
            t[col].info.format = ".4f"
        return t

    def to_json_dict(self):
        """A JSON-serialisable dict ``{label: metrics}`` (per-bin rows as dicts)."""
        out = {}
        for label, m in self.estimators.items():
            d = {k: v for k, v in m.items() if k not in ("per_bin", "summary", "prediction")}
            d["per_bin"] = [{k: (None if isinstance(v, float) and np.isnan(v) else
                                 (float(v) if k not in ("n",) else int(v)))
                             for k, v in zip(m["per_bin"].colnames, row, strict=True)}
                            for row in m["per_bin"]]
            out[label] = d
        return out


def report_table(results):
    """One row per estimator: the headline metrics of `evaluate_catalogue`.

    Same as ``results.report_table()`` (`EvaluationResults.report_table`).
    """
    return results.report_table()


def to_json_dict(results):
    """A JSON-serialisable version of `evaluate_catalogue`'s output.

    Same as ``results.to_json_dict()`` (`EvaluationResults.to_json_dict`).
    """
    return results.to_json_dict()
