"""Figures of the validation of mass estimators and of Table 1.

Each function takes the output of `clustermass.validation.evaluate` (or
plain arrays) and returns a `~matplotlib.figure.Figure`; nothing is shown or
saved here. The layouts follow Kodi Ramanah et al. (2020, MNRAS 499, 1985):
Fig. 5 (predicted vs true mass with 1- and 2-sigma bands per bin), Fig. 6
(scatter vs number of galaxies with the eq. 8 fit) and Fig. 7 (flow vs
literature masses of real clusters).
"""

import numpy as np

from .posterior import LOG_MASS_LABEL

__all__ = ["plot_prediction_bands", "plot_scatter_vs_members", "plot_calibration",
           "plot_table1"]


def _figure(ncols=1, width=4.5, height=4.0):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, ncols, figsize=(width * ncols, height), layout="constrained",
                             squeeze=False)
    return fig, axes[0]


def plot_prediction_bands(results, log_m_true):
    """Predicted vs true log mass: per-bin mean, 68 % and 95 % bands (KR+2020 Fig. 5).

    Parameters
    ----------
    results : dict
        ``{label: metrics}`` with ``metrics`` from `~clustermass.validation.evaluate`.
    log_m_true : ndarray
        True log masses of the test clusters.
    """
    fig, axes = _figure(len(results))
    for ax, (label, m) in zip(axes, results.items(), strict=True):
        b = m["per_bin"]
        centre = 0.5 * (np.asarray(b["lo"]) + np.asarray(b["hi"]))
        ax.scatter(log_m_true, m["prediction"], s=1, color="0.75", rasterized=True)
        ax.fill_between(centre, b["p02"], b["p97"], alpha=0.25, color="C0", label="95 %")
        ax.fill_between(centre, b["p16"], b["p84"], alpha=0.45, color="C0", label="68 %")
        ax.plot(centre, b["mean_pred"], "o-", color="C0", ms=3, label="mean")
        lims = [13.4, 15.4]
        ax.plot(lims, lims, "k--", lw=0.8)
        ax.set(xlim=lims, ylim=lims, xlabel="true " + LOG_MASS_LABEL,
               ylabel="predicted " + LOG_MASS_LABEL, title=label)
        ax.legend(frameon=False, loc="upper left", fontsize=8)
    return fig


def plot_scatter_vs_members(results, n_members, log_m_true, *, n_bins=8):
    """Residual scatter vs number of galaxies with the eq. 8 fit (KR+2020 Fig. 6)."""
    fig, (ax,) = _figure(1, width=5)
    n = np.asarray(n_members, float)
    edges = np.unique(np.quantile(n, np.linspace(0, 1, n_bins + 1)))
    which = np.clip(np.searchsorted(edges, n, side="right") - 1, 0, len(edges) - 2)
    grid = np.geomspace(max(n.min(), 5), n.max(), 100)
    for k, (label, m) in enumerate(results.items()):
        res = np.asarray(m["prediction"]) - np.asarray(log_m_true)
        x, y = [], []
        for j in range(len(edges) - 1):
            sel = which == j
            if sel.sum() > 3:
                x.append(np.mean(n[sel]))
                y.append(np.std(res[sel], ddof=1))
        color = f"C{k}"
        ax.plot(x, y, "o", color=color, label=label)
        fit = np.sqrt(m["sigma_stat"] ** 2 * 100 / grid + m["sigma_sys"] ** 2)
        ax.plot(grid, fit, "-", color=color, lw=1,
                label=rf"$\sigma_{{\rm stat}}$={m['sigma_stat']:.3f}, "
                      rf"$\sigma_{{\rm sys}}$={m['sigma_sys']:.3f}")
    ax.set(xscale="log", xlabel=r"$N_{\rm gal}$ in window", ylabel="residual scatter [dex]")
    ax.legend(frameon=False, fontsize=7)
    return fig


def plot_calibration(results):
    """Coverage per mass bin and PIT histograms of posterior estimators."""
    probabilistic = {k: m for k, m in results.items() if "coverage_68" in m}
    fig, (ax1, ax2) = _figure(2)
    for k, (label, m) in enumerate(probabilistic.items()):
        b = m["per_bin"]
        centre = 0.5 * (np.asarray(b["lo"]) + np.asarray(b["hi"]))
        ax1.plot(centre, b["coverage_68"], "o-", color=f"C{k}", label=f"{label} 68 %")
        ax1.plot(centre, b["coverage_95"], "s--", color=f"C{k}", label=f"{label} 95 %")
        ax2.stairs(np.asarray(m["pit_histogram"]) * 10, np.linspace(0, 1, 11),
                   color=f"C{k}", label=label)
    for level in (0.6827, 0.9545):
        ax1.axhspan(level - 0.03, level + 0.03, color="0.85", lw=0)
    ax1.set(xlabel="true " + LOG_MASS_LABEL, ylabel="coverage", ylim=(0.3, 1.02))
    ax1.legend(frameon=False, fontsize=7)
    ax2.axhline(1, color="k", lw=0.8, ls="--")
    ax2.set(xlabel="PIT of the true mass", ylabel="density")
    ax2.legend(frameon=False, fontsize=7)
    return fig


def plot_table1(table):
    """Our flow masses against the paper's and the literature (KR+2020 Fig. 7).

    Parameters
    ----------
    table : `~astropy.table.Table`
        As made by ``clustermass table1``: columns ``cluster, log_m_flow,
        log_m_flow_err, log_m_paper, log_m_paper_err, log_m_lit, log_m_lit_err``.
    """
    fig, (ax,) = _figure(1, width=5.5)
    rows = [r for r in table if np.isfinite(r["log_m_flow"])]
    y = np.arange(len(rows))
    ax.errorbar([r["log_m_flow"] for r in rows], y, xerr=[r["log_m_flow_err"] for r in rows],
                fmt="o", color="C0", label="clustermass flow")
    ax.errorbar([r["log_m_paper"] for r in rows], y + 0.15,
                xerr=[r["log_m_paper_err"] for r in rows], fmt="s", color="C1",
                label="Kodi Ramanah et al. 2020")
    ax.errorbar([r["log_m_lit"] for r in rows], y - 0.15,
                xerr=[r["log_m_lit_err"] for r in rows], fmt="^", color="C2",
                label="literature")
    ax.set_yticks(y, [r["cluster"] for r in rows])
    ax.set_xlabel(LOG_MASS_LABEL)
    ax.legend(frameon=False, fontsize=8)
    return fig
