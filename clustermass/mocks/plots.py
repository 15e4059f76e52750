"""Figures of the mock validation (``clustermass mock-validate``).

* `plot_cluster`: one cluster, members and interlopers (Kodi Ramanah et al.
  2020, Fig. 1);
* `plot_mass_functions`: mass distributions of the training and test sets,
  pure and contaminated (Kodi Ramanah et al. 2020, Fig. 2);
* `plot_sigma_mass`: biweight velocity dispersion of pure mocks against M200c,
  with the dark-matter relation of Evrard et al. (2008, ApJ 672, 122);
* `plot_interloper_fractions`: interloper fraction per mass bin;
* `plot_interloper_density`: stacked projected phase-space density of
  interlopers against the universal form of Mamon, Biviano & Murante (2010,
  A&A 520, A30);
* `plot_richness`: members inside r200c against M200c.

The numbers come from `clustermass.mocks.fits`; matplotlib is imported when a
figure is drawn (with the Agg backend unless a file backend is already set).
"""

import numpy as np

from .._units import EVRARD_ALPHA, EVRARD_SIGMA15, R_UNIT
from ..exceptions import InvalidInputError
from ..phasespace import PhaseSpaceGrid
from ..priors import MDPL2_UNIVERSE
from .fits import binned_median
from .profiles import mbm10_interloper_density

__all__ = [
    "plot_cluster",
    "plot_mass_functions",
    "plot_sigma_mass",
    "plot_interloper_fractions",
    "plot_interloper_density",
    "plot_richness",
    "pyplot",
]


def pyplot():
    """`matplotlib.pyplot`, switched to the Agg backend unless a file backend is set."""
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg", "pdf", "svg", "ps", "cairo"):
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_cluster(pure, contaminated, *, target_log_mass=14.9):
    """The paper's Fig. 1: one cluster, pure (left) and contaminated (right)."""
    plt = pyplot()
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
    plt = pyplot()
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


def plot_sigma_mass(log_mass, sigma, fit, *, redshift=MDPL2_UNIVERSE.redshift):
    """Biweight dispersion of pure mocks against mass, with Evrard et al. (2008)."""
    from astropy.cosmology import Planck13

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4.5), layout="constrained")
    ok = np.isfinite(sigma)
    ax.scatter(log_mass[ok], sigma[ok], s=2, alpha=0.25, c="0.4", label="pure mocks")
    xs = np.linspace(13.5, 15.3, 50)
    e = Planck13.efunc(redshift)
    ax.plot(xs, EVRARD_SIGMA15 * (e * 10 ** (xs - 15)) ** EVRARD_ALPHA, "C3-",
            label="Evrard et al. 2008 (DM)")
    ax.plot(xs, fit["sigma_15"] * (e * 10 ** (xs - 15)) ** fit["slope"], "C0--",
            label=f"fit: slope {fit['slope']:.3f}, $\\sigma_{{15}}$ = {fit['sigma_15']:.0f} km/s")
    mid, med = binned_median(log_mass, sigma, np.linspace(13.5, 15.3, 10))
    ax.plot(mid, med, "ko", ms=4, label="median per bin")
    ax.set_yscale("log")
    ax.set_xlabel(r"$\log_{10}[M_{200c} / (h^{-1} M_\odot)]$")
    ax.set_ylabel(r"biweight $\sigma_v$ [km/s]")
    ax.legend(fontsize=8)
    return fig


def plot_interloper_fractions(tables):
    """Interloper fraction per mass bin."""
    plt = pyplot()
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
    plt = pyplot()
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
    plt = pyplot()
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

