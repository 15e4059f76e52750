"""Posterior distributions of a cluster's mass, ``p(log10 M200c | data)``.

Every estimator in clustermass (the neural flows and the classical M-sigma
baseline) returns a `MassPosterior`: a probability density of
``log10[M200c / (h^-1 Msun)]`` tabulated on a fine grid, with summaries
(mean, median, standard deviation, percentiles, central intervals), random
samples, a table and a plot in the style of Kodi Ramanah et al. (2020, MNRAS
499, 1985, Fig. 4).

The interface follows the posterior objects of ``sbi``: ``post.sample(1000)``,
``post.median``, ``post.percentile([16, 84])``, ``post.pdf(x)``.

Masses are M200c, the mass inside the sphere whose mean density is 200 times
the critical density at the cluster redshift, in h^-1 Msun as the simulations
quote them; `MassPosterior.summary_quantity` and `MassPosterior.mass_msun`
convert them to Msun with the h of the cosmology recorded in ``meta``.
"""

import numpy as np
from astropy import units as u
from astropy.cosmology import units as cu
from astropy.table import QTable

from ._stats import cdf_rows, quantiles_rows
from .exceptions import InvalidInputError
from .phasespace import resolve_cosmology

__all__ = [
    "MassPosterior",
    "default_log_mass_grid",
    "MASS_UNIT",
    "LOG_MASS_LABEL",
    "MASS_DEFINITION",
    "SUPPORT_EDGE_WIDTH",
    "SUPPORT_EDGE_PROBABILITY",
]

#: Unit of M200c: h^-1 Msun, in astropy's little-h convention.
MASS_UNIT = u.Msun / cu.littleh
#: Axis label used in tables and plots.
LOG_MASS_LABEL = r"$\log_{10}[M_{200c}\,/\,(h^{-1}\,M_\odot)]$"
#: The mass definition of every posterior: 200 times the critical density.
MASS_DEFINITION = "200c"
#: Width (dex) of the band at each end of a posterior's support that
#: `MassPosterior.at_support_edge` inspects.
SUPPORT_EDGE_WIDTH = 0.05
#: Probability inside that band above which a posterior is "at the support edge".
SUPPORT_EDGE_PROBABILITY = 0.01


def default_log_mass_grid():
    """The grid of log10[M200c / (h^-1 Msun)] on which posteriors are tabulated.

    701 points from 12.5 to 16.0 (spacing 0.005 dex), wide enough for every
    cluster and fine enough for the narrowest posteriors (~0.04 dex).
    """
    return np.linspace(12.5, 16.0, 701)


class MassPosterior:
    """Probability density of log10[M200c / (h^-1 Msun)] for one cluster.

    Parameters
    ----------
    log_mass_grid : array-like
        Increasing grid of log10[M200c / (h^-1 Msun)].
    pdf : array-like
        Density (need not be normalised) at each grid point; non-negative.
    method : str
        Name of the estimator that produced it, e.g. ``'flow:contaminated'`` or
        ``'msigma'``.
    meta : dict, optional
        Provenance: model, versions, cosmology, data source. Entries read
        here: ``"h"`` (or else ``"cosmology"``, the name of an astropy
        realization; else Planck13) for conversions to Msun, and ``"support"``,
        the ``(lo, hi)`` log masses a model can return, for `at_support_edge`.

    Examples
    --------
    >>> from clustermass import MassPosterior
    >>> post = MassPosterior.from_normal(14.9, 0.1, method="example")
    >>> post
    MassPosterior(method='example', mean=14.9, std=0.1)
    >>> post.percentile([16, 84])  # doctest: +FLOAT_CMP
    array([14.80052, 14.99948])
    >>> post.mass  # doctest: +FLOAT_CMP
    <Quantity 7.94328235e+14 solMass / littleh>

    In Msun, with the h of the cosmology in ``meta`` (Planck13 when none is
    recorded, h = 0.6777):

    >>> post.mass_msun  # doctest: +FLOAT_CMP
    <Quantity 1.17209714e+15 solMass>
    >>> s = post.summary_quantity()
    >>> s["mass_definition"], s["cosmology"], s["h"]
    ('200c', 'Planck13', 0.6777)
    """

    _params = ("method", "mean", "std")

    def __init__(self, log_mass_grid, pdf, *, method, meta=None):
        x = np.asarray(log_mass_grid, dtype=float)
        p = np.asarray(pdf, dtype=float)
        if x.ndim != 1 or x.size < 3:
            raise InvalidInputError("log_mass_grid must be 1-D with at least 3 points")
        if p.shape != x.shape:
            raise InvalidInputError(
                f"pdf must have the shape of log_mass_grid {x.shape}, got {p.shape}"
            )
        if not (np.all(np.isfinite(x)) and np.all(np.isfinite(p))):
            raise InvalidInputError("log_mass_grid and pdf must be finite")
        if np.any(np.diff(x) <= 0):
            raise InvalidInputError("log_mass_grid must be strictly increasing")
        if np.any(p < 0):
            raise InvalidInputError("pdf must be non-negative")
        try:
            p, cdf = cdf_rows(p, x)
        except InvalidInputError:
            raise InvalidInputError("pdf integrates to zero on log_mass_grid") from None
        self._x = x
        self._p = p
        self._cdf = cdf
        self.method = str(method)
        self.meta = dict(meta or {})

    # -- constructors --------------------------------------------------------
    @classmethod
    def from_normal(cls, mean, std, *, log_mass_grid=None, method, meta=None):
        """A Gaussian posterior in log mass with the given mean and standard deviation (dex)."""
        from scipy import stats

        if not (np.isfinite(mean) and np.isfinite(std) and std > 0):
            raise InvalidInputError(f"need a finite mean and a positive std, got {mean}, {std}")
        x = default_log_mass_grid() if log_mass_grid is None else np.asarray(log_mass_grid)
        lo, hi = min(x[0], mean - 8 * std), max(x[-1], mean + 8 * std)
        if lo < x[0] or hi > x[-1] or (x[1] - x[0]) > std / 5:
            step = min(x[1] - x[0], std / 20)
            x = np.arange(lo, hi + step, step)
        return cls(x, stats.norm.pdf(x, mean, std), method=method, meta=meta)

    @classmethod
    def from_samples(cls, samples, *, log_mass_grid=None, method, meta=None, bandwidth=None):
        """A posterior from samples of log mass, smoothed with a Gaussian kernel.

        Parameters
        ----------
        samples : array-like
            Samples of log10[M200c / (h^-1 Msun)].
        bandwidth : float, optional
            Kernel width in dex; default Scott's rule (`scipy.stats.gaussian_kde`).
        """
        from scipy import stats

        s = np.asarray(samples, dtype=float).ravel()
        s = s[np.isfinite(s)]
        if s.size < 2 or np.ptp(s) == 0:
            raise InvalidInputError("need at least two distinct finite samples")
        bw = None if bandwidth is None else bandwidth / s.std(ddof=1)
        kde = stats.gaussian_kde(s, bw_method=bw)
        width = kde.factor * s.std(ddof=1)
        x = default_log_mass_grid() if log_mass_grid is None else np.asarray(log_mass_grid)
        lo, hi = min(x[0], s.min() - 5 * width), max(x[-1], s.max() + 5 * width)
        if lo < x[0] or hi > x[-1]:
            x = np.arange(lo, hi + 0.005, 0.005)
        return cls(x, kde(x), method=method, meta=meta)

    # -- the distribution ----------------------------------------------------
    @property
    def log_mass_grid(self):
        """The grid of log10[M200c / (h^-1 Msun)] (read-only copy)."""
        return self._x.copy()

    @property
    def density(self):
        """The normalised density on `log_mass_grid` (per dex)."""
        return self._p.copy()

    def pdf(self, log_mass):
        """Density at ``log_mass`` (per dex), zero outside the grid."""
        return np.interp(log_mass, self._x, self._p, left=0.0, right=0.0)

    def cdf(self, log_mass):
        """Cumulative probability at ``log_mass``."""
        return np.interp(log_mass, self._x, self._cdf, left=0.0, right=1.0)

    def ppf(self, q):
        """Quantile function: the log mass below which lies probability ``q``."""
        q = np.asarray(q, dtype=float)
        if np.any((q < 0) | (q > 1)) or not np.all(np.isfinite(q)):
            raise InvalidInputError("quantiles must lie in [0, 1]")
        # Flat stretches of the CDF (zero density) are skipped by quantiles_rows.
        return quantiles_rows(self._cdf, self._x, q)[0].reshape(q.shape)[()]

    def percentile(self, q):
        """Percentiles (0-100) of log10[M200c / (h^-1 Msun)]."""
        q = np.asarray(q, dtype=float)
        return self.ppf(q / 100.0)

    def interval(self, level=0.6827):
        """Central credible interval holding probability ``level`` (default 1 sigma)."""
        if not 0 < level < 1:
            raise InvalidInputError(f"level must be in (0, 1), got {level}")
        lo, hi = self.ppf([(1 - level) / 2, (1 + level) / 2])
        return float(lo), float(hi)

    @property
    def mean(self):
        """Posterior mean of log10[M200c / (h^-1 Msun)]."""
        return float(np.trapezoid(self._x * self._p, self._x))

    @property
    def median(self):
        """Posterior median of log10[M200c / (h^-1 Msun)]."""
        return float(self.ppf(0.5))

    @property
    def mode(self):
        """Maximum of the posterior density."""
        return float(self._x[np.argmax(self._p)])

    @property
    def std(self):
        """Posterior standard deviation of log10 M200c, in dex."""
        m = self.mean
        return float(np.sqrt(np.trapezoid((self._x - m) ** 2 * self._p, self._x)))

    @property
    def mass(self):
        """Posterior median of M200c as a Quantity in h^-1 Msun."""
        return 10**self.median * MASS_UNIT

    def mass_interval(self, level=0.6827):
        """Central credible interval of M200c as a Quantity in h^-1 Msun."""
        return 10 ** np.array(self.interval(level)) * MASS_UNIT

    def hubble_h(self, cosmology=None):
        """The h that converts this posterior's h^-1 Msun to Msun, and its cosmology.

        Parameters
        ----------
        cosmology : `~astropy.cosmology.Cosmology` or str, optional
            Use this cosmology's h. By default ``meta["h"]`` (recorded by
            `~clustermass.core.ClusterMass.infer`), else the cosmology named in
            ``meta["cosmology"]``, else Planck13, the cosmology of the
            training mocks.

        Returns
        -------
        h : float
        cosmology_name : str or None
        """
        if cosmology is None and "h" in self.meta:
            return float(self.meta["h"]), self.meta.get("cosmology")
        if cosmology is None:
            cosmology = self.meta.get("cosmology") or "Planck13"
        try:
            cosmo = resolve_cosmology(cosmology)
        except ValueError as exc:  # an unknown realization name
            raise InvalidInputError(
                f"cannot find the h of cosmology {cosmology!r} ({exc}); pass"
                " cosmology=<an astropy Cosmology>"
            ) from None
        return float(cosmo.h), cosmo.name

    def _to_msun(self, log_mass, cosmology=None):
        h, _ = self.hubble_h(cosmology)
        h0 = 100 * h * u.km / u.s / u.Mpc
        return (10 ** np.asarray(log_mass, dtype=float) * MASS_UNIT).to(u.Msun, cu.with_H0(h0))

    @property
    def mass_msun(self):
        """Posterior median of M200c as a Quantity in Msun (h from `hubble_h`)."""
        return self._to_msun(self.median)

    def summary_quantity(self, *, cosmology=None):
        """The summary as Quantities of M200c in Msun, with the h used stated.

        The h^-1 Msun masses are divided by the h of `hubble_h` (by default the
        cluster's cosmology, recorded in ``meta``).

        Parameters
        ----------
        cosmology : `~astropy.cosmology.Cosmology` or str, optional
            Convert with this cosmology's h instead.

        Returns
        -------
        summary : dict
            ``m200c`` (the median), ``m200c_16``, ``m200c_84``, ``m200c_2.5``
            and ``m200c_97.5`` (Quantities in Msun), ``mass_definition``
            (``'200c'``: mean density 200 times the critical density),
            ``h``, ``cosmology`` and ``method``.
        """
        h, name = self.hubble_h(cosmology)
        lo1, hi1 = self.interval(0.6827)
        lo2, hi2 = self.interval(0.9545)
        masses = self._to_msun([self.median, lo1, hi1, lo2, hi2], cosmology)
        keys = ("m200c", "m200c_16", "m200c_84", "m200c_2.5", "m200c_97.5")
        return {"method": self.method, "mass_definition": MASS_DEFINITION,
                "cosmology": name, "h": h, **dict(zip(keys, masses, strict=True))}

    @property
    def support(self):
        """``(lo, hi)``: the log masses the estimator can return.

        ``meta["support"]`` when the model records it (a flow's training
        range of masses), else the ends of `log_mass_grid`.
        """
        s = self.meta.get("support")
        if s is None:
            return float(self._x[0]), float(self._x[-1])
        try:
            lo, hi = (float(x) for x in s)
        except (TypeError, ValueError):
            raise InvalidInputError(f'meta["support"] must be a (lo, hi) pair, got {s!r}') from None
        return lo, hi

    @property
    def at_support_edge(self):
        """Whether the posterior piles up at an edge of its `support`.

        True when more than `SUPPORT_EDGE_PROBABILITY` (1 %) of the
        probability lies within `SUPPORT_EDGE_WIDTH` (0.05 dex) of either end
        of the support, or beyond it. A model cannot return masses outside its
        support, so such a posterior is truncated there: the true mass may
        lie beyond it and the summaries are biased towards the inside.
        `~clustermass.core.ClusterMass.infer` then warns with
        `~clustermass.exceptions.SupportEdgeWarning`.

        Examples
        --------
        >>> from clustermass import MassPosterior
        >>> MassPosterior.from_normal(14.9, 0.1, method="x").at_support_edge
        False
        >>> MassPosterior.from_normal(15.5, 0.1, method="x",
        ...                           meta={"support": (13.2, 15.6)}).at_support_edge
        True
        """
        lo, hi = self.support
        below = float(self.cdf(lo + SUPPORT_EDGE_WIDTH))
        above = 1.0 - float(self.cdf(hi - SUPPORT_EDGE_WIDTH))
        return below > SUPPORT_EDGE_PROBABILITY or above > SUPPORT_EDGE_PROBABILITY

    def sample(self, n, *, seed=None):
        """Draw ``n`` samples of log10[M200c / (h^-1 Msun)] (inverse-CDF sampling)."""
        if int(n) != n or n < 0:
            raise InvalidInputError(f"n must be a non-negative integer, got {n!r}")
        rng = np.random.default_rng(seed)
        return self.ppf(rng.uniform(size=int(n)))

    # -- output --------------------------------------------------------------
    def summary(self):
        """A dict of summaries: mean, std, median, 1- and 2-sigma intervals, method."""
        lo1, hi1 = self.interval(0.6827)
        lo2, hi2 = self.interval(0.9545)
        return {
            "method": self.method,
            "log10_m200c": self.mean,
            "log10_m200c_std": self.std,
            "log10_m200c_median": self.median,
            "log10_m200c_16": lo1,
            "log10_m200c_84": hi1,
            "log10_m200c_2.5": lo2,
            "log10_m200c_97.5": hi2,
        }

    def to_table(self):
        """The tabulated density as a `~astropy.table.QTable`, summaries in ``meta``."""
        t = QTable(
            [self._x, self._p, self._cdf],
            names=("log10_m200c", "pdf", "cdf"),
            meta={**self.meta, **self.summary()},
        )
        t["log10_m200c"].description = "log10[M200c / (h^-1 Msun)]"
        t["pdf"].description = "probability density per dex"
        t["cdf"].description = "cumulative probability"
        return t

    def plot(self, ax=None, *, reference=None, label=None, color="C0"):
        """Plot the density with its 1- and 2-sigma intervals shaded (cf. KR+2020 Fig. 4).

        Parameters
        ----------
        ax : `~matplotlib.axes.Axes`, optional
            Axes to draw on; a new figure by default.
        reference : tuple of float, optional
            ``(value, error)`` of a reference mass (e.g. from the literature) to mark.
        label : str, optional
            Legend label; default the method name.

        Returns
        -------
        ax : `~matplotlib.axes.Axes`
        """
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(5, 3.5), layout="constrained")
        x, p = self._x, self._p
        lo2, hi2 = self.interval(0.9545)
        lo1, hi1 = self.interval(0.6827)
        view = (x >= lo2 - 4 * self.std) & (x <= hi2 + 4 * self.std)
        ax.plot(x[view], p[view], color=color, label=label or self.method)
        for lo, hi, alpha in ((lo2, hi2, 0.2), (lo1, hi1, 0.35)):
            sel = (x >= lo) & (x <= hi)
            ax.fill_between(x[sel], p[sel], color=color, alpha=alpha, lw=0)
        ax.axvline(self.mean, color=color, ls="--", lw=1)
        if reference is not None:
            value, err = reference
            ax.axvspan(value - err, value + err, color="0.5", alpha=0.25, lw=0)
            ax.axvline(value, color="0.3", lw=1, label="reference")
        ax.set_xlabel(LOG_MASS_LABEL)
        ax.set_ylabel("posterior density")
        ax.set_ylim(bottom=0)
        ax.legend(frameon=False)
        return ax

    def __repr__(self):
        parts = []
        for name in self._params:
            value = getattr(self, name)
            parts.append(f"{name}={round(value, 3)!r}" if isinstance(value, float) else
                         f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(parts)})"
