"""Priors on cluster mass, and re-weighting flow posteriors to another prior.

A flow trained on a catalogue whose log masses are distributed as
``p_train(log M)`` learns ``p_train(log M | d)``. Training sets are flat in
log M (Ho et al. 2019; Kodi Ramanah et al. 2020) so that rare massive
clusters are learnt as well as common ones; but real clusters (and the test
mocks) follow the halo mass function, and a posterior calibrated for them is

    p(log M | d) ∝ p_train(log M | d) n(log M) / p_train(log M)

(Bayes' theorem with the prior swapped; e.g. Papamakarios & Murray 2016,
section 2.3). `mass_function_prior` gives ``n(log M)``, the Tinker et al.
(2008) mass function from colossus for the cosmology of the universe the model
was trained in (a `TrainingUniverse`; by default `MDPL2_UNIVERSE`, the
universe of the mock catalogues), through the same astropy-to-colossus bridge
as the synthetic universe, so that both weigh by exactly the same mass
function.
"""

import dataclasses
import functools
import warnings

import numpy as np

from .exceptions import InvalidInputError

__all__ = ["mass_function_prior", "reweight", "check_prior", "check_support", "PRIORS",
           "TrainingUniverse", "MDPL2_UNIVERSE", "catalogue_support", "catalogue_redshift_range"]


@dataclasses.dataclass(frozen=True)
class TrainingUniverse:
    """The universe a model was trained in: what a mass-function prior must match.

    Parameters
    ----------
    redshift : float
        Redshift of the training clusters.
    cosmology : str
        Name of an astropy cosmology realization (e.g. ``"Planck13"``).
    mass_function : str
        colossus mass-function model (e.g. ``"tinker08"``, Tinker et al. 2008).
    sigma8, ns : float
        Power-spectrum normalisation and slope.
    """

    redshift: float
    cosmology: str = "Planck13"
    mass_function: str = "tinker08"
    sigma8: float = 0.8288
    ns: float = 0.9611

    @classmethod
    def from_catalogue_meta(cls, meta, *, default=None):
        """Read it from a mock catalogue's ``meta`` (its ``universe`` entry).

        Missing entries come from ``default`` (`MDPL2_UNIVERSE` if `None`).
        """
        default = MDPL2_UNIVERSE if default is None else default
        meta = dict(meta or {})
        uni = dict(meta.get("universe") or {})
        values = {}
        for f in dataclasses.fields(cls):
            v = uni.get(f.name, meta.get(f.name))
            values[f.name] = getattr(default, f.name) if v is None else f.type(v)
        return cls(**values)


def _universe_entries(meta):
    meta = meta if isinstance(meta, dict) else {}
    uni = meta.get("universe")
    return meta, (uni if isinstance(uni, dict) else {})


def catalogue_support(meta):
    """``(lo, hi)``: the range of host log10[M200c / (h^-1 Msun)] of a mock catalogue, or `None`.

    Read from the catalogue's ``meta["universe"]`` (``log_mass_min``,
    ``log_mass_max``); `None` when missing or not a finite ``lo < hi`` pair.
    A flow trained on the catalogue has seen no mass outside it
    (`~clustermass.flow.MassFlow.training_support`).

    Examples
    --------
    >>> from clustermass.priors import catalogue_support
    >>> catalogue_support({"universe": {"log_mass_min": 13.2, "log_mass_max": 15.6}})
    (13.2, 15.6)
    >>> catalogue_support({}) is None
    True
    """
    _, uni = _universe_entries(meta)
    try:
        lo, hi = float(uni["log_mass_min"]), float(uni["log_mass_max"])
    except (KeyError, TypeError, ValueError):
        return None
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        return None
    return lo, hi


def catalogue_redshift_range(meta):
    """``(z_min, z_max)`` of the clusters of a mock catalogue, from its ``meta``, or `None`.

    The universe's ``redshift_range`` (``[lo, hi]``, the prior the cluster
    redshifts were drawn from; ``clustermass mock --set redshift_range=...``)
    or ``redshift_min`` and ``redshift_max``, in ``meta["universe"]`` or
    ``meta``, when recorded; else ``(z, z)`` for a catalogue at the one
    redshift ``z`` (``redshift``); `None` when neither is known.

    Examples
    --------
    >>> from clustermass.priors import catalogue_redshift_range
    >>> catalogue_redshift_range({"universe": {"redshift": 0.117}})
    (0.117, 0.117)
    >>> catalogue_redshift_range({"universe": {"redshift": 0.155,
    ...                                        "redshift_range": [0.01, 0.3]}})
    (0.01, 0.3)
    """
    meta, uni = _universe_entries(meta)

    def get(name):
        return uni.get(name, meta.get(name))

    try:
        pair = get("redshift_range")
        if pair is not None:
            lo, hi = (float(v) for v in pair)
        elif get("redshift_min") is not None and get("redshift_max") is not None:
            lo, hi = float(get("redshift_min")), float(get("redshift_max"))
        elif get("redshift") is not None:
            lo = hi = float(get("redshift"))
        else:
            return None
    except (TypeError, ValueError):
        return None
    if not (np.isfinite(lo) and np.isfinite(hi) and lo <= hi):
        return None
    return lo, hi


def check_support(support):
    """``support`` as a ``(lo, hi)`` pair of floats (or `None`); `InvalidInputError` if malformed.

    Examples
    --------
    >>> from clustermass.priors import check_support
    >>> check_support([13.2, 15.6])
    (13.2, 15.6)
    >>> check_support((15.0, 14.0))
    Traceback (most recent call last):
    ...
    clustermass.exceptions.InvalidInputError: support must be a (lo, hi) pair ...
    """
    if support is None:
        return None
    try:
        lo, hi = (float(v) for v in support)
    except (TypeError, ValueError):
        lo = hi = np.nan
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise InvalidInputError(
            f"support must be a (lo, hi) pair of finite log masses with lo < hi, got {support!r}")
    return lo, hi


def _inside(grid, support):
    """Mask of the grid points inside ``support`` (ends included, to 1e-9 dex)."""
    if support is None:
        return np.ones(grid.shape, bool)
    lo, hi = support
    return (grid >= lo - 1e-9) & (grid <= hi + 1e-9)


#: The universe of the paper's mocks and of clustermass' synthetic universe by
#: default: MDPL2 snapshot 120, z = 0.117, Planck13 (Klypin et al. 2016, MNRAS
#: 457, 4340; Kodi Ramanah et al. 2020), Tinker et al. (2008) mass function.
MDPL2_UNIVERSE = TrainingUniverse(redshift=0.117)

#: Priors accepted by `clustermass.core.ClusterMass.infer` and ``clustermass evaluate``.
PRIORS = ("flat", "mass_function")


def check_prior(prior):
    """Raise `~clustermass.exceptions.InvalidInputError` unless ``prior`` is one of `PRIORS`.

    Examples
    --------
    >>> from clustermass.priors import check_prior
    >>> check_prior("flat")
    >>> check_prior("uniform")
    Traceback (most recent call last):
    ...
    clustermass.exceptions.InvalidInputError: prior must be one of (...), got 'uniform'
    """
    if prior not in PRIORS:
        raise InvalidInputError(f"prior must be one of {PRIORS}, got {prior!r}")


def _astropy_cosmology(cosmology):
    """An astropy cosmology from a realization name (or a cosmology, returned as is)."""
    from astropy.cosmology import Cosmology, default_cosmology

    if isinstance(cosmology, Cosmology):
        return cosmology
    try:
        return default_cosmology.validate(cosmology)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"the training universe's cosmology must name an astropy realization (e.g."
            f" 'Planck13'), got {cosmology!r}"
        ) from exc


def _universe(universe):
    if universe is None:
        return MDPL2_UNIVERSE
    if not isinstance(universe, TrainingUniverse):
        raise InvalidInputError(
            f"universe must be a clustermass.priors.TrainingUniverse, got {universe!r}"
        )
    return universe


@functools.lru_cache(maxsize=8)
def _log_dn_dlogm(redshift, universe):
    from colossus.lss import mass_function as cmf

    from ._colossus import colossus_cosmology, using_colossus_cosmology

    cc = colossus_cosmology(_astropy_cosmology(universe.cosmology), sigma8=universe.sigma8,
                            ns=universe.ns)
    with using_colossus_cosmology(cc):
        lm = np.linspace(12.0, 16.5, 901)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # outside calibration range
            dn = cmf.massFunction(10**lm, redshift, mdef="200c", model=universe.mass_function,
                                  q_out="dndlnM")
    return lm, np.log(np.maximum(dn, 1e-300))


def mass_function_prior(log_mass_grid, *, redshift=None, universe=None, support=None):
    """Relative halo mass function dn/dlog M (Tinker et al. 2008) on a log-mass grid.

    Parameters
    ----------
    log_mass_grid : array-like
        log10[M200c / (h^-1 Msun)].
    redshift : float, optional
        Redshift of the mass function; default ``universe.redshift``.
    universe : `TrainingUniverse`, optional
        Cosmology, power spectrum (sigma8, ns) and mass-function model; default
        `MDPL2_UNIVERSE` (Planck13, Tinker et al. 2008, at the redshift of the
        mock catalogues). Give the universe a model was trained in
        (`clustermass.flow.MassFlow.training_universe`) so that the prior
        matches its training set.
    support : (float, float), optional
        ``(lo, hi)``: the prior is zero outside this range of log masses
        (e.g. `clustermass.flow.MassFlow.training_support`).

    Returns
    -------
    weights : ndarray
        Proportional to dn/dlog M, with maximum 1 (inside ``support``).

    Examples
    --------
    >>> import numpy as np
    >>> from clustermass.priors import mass_function_prior
    >>> w = mass_function_prior(np.array([14.0, 15.0]))
    >>> bool(w[0] > 20 * w[1])  # massive clusters are rare
    True
    """
    universe = _universe(universe)
    support = check_support(support)
    z = universe.redshift if redshift is None else redshift
    lm, log_dn = _log_dn_dlogm(float(z), universe)
    x = np.asarray(log_mass_grid, float)
    inside = _inside(x, support)
    log_w = np.interp(x, lm, log_dn)
    if not inside.any():
        return np.zeros_like(x)
    return np.where(inside, np.exp(log_w - log_w[inside].max()), 0.0)


def reweight(pdfs, log_mass_grid, prior, *, redshift=None, universe=None, support=None):
    """Re-weight posterior densities from a flat training prior to ``prior``.

    A flow trained on a set flat in log M over ``support`` = (lo, hi) learnt
    ``p_train(log M | d)`` with ``p_train(log M)`` constant inside and zero
    outside; so does the re-weighted posterior: with ``support`` given,
    densities outside it are set to zero under either prior, and the
    mass-function weights apply inside it only.

    Parameters
    ----------
    pdfs : ndarray
        Shape ``(n, n_grid)`` or ``(n_grid,)``.
    log_mass_grid : array-like
        Shape ``(n_grid,)``, log10[M200c / (h^-1 Msun)].
    prior : {'flat', 'mass_function'}
        ``'flat'`` returns ``pdfs`` unchanged.
    redshift : float or array-like, optional
        Redshift of the mass function (`mass_function_prior`), one value or
        one per row of a 2-D ``pdfs``; default ``universe.redshift``.
    universe : `TrainingUniverse`, optional
        The universe of the prior (`mass_function_prior`); default
        `MDPL2_UNIVERSE`.
    support : (float, float), optional
        The training range of log masses
        (`clustermass.flow.MassFlow.training_support`); `None`: no truncation.

    Returns
    -------
    pdfs : ndarray
        Same shape; rows re-normalised on the grid (``'flat'`` without
        ``support``: unchanged).

    Raises
    ------
    InvalidInputError
        A posterior vanishes (no probability left inside ``support`` or
        under the prior).

    Examples
    --------
    >>> import numpy as np
    >>> from clustermass.priors import reweight
    >>> x = np.linspace(13.0, 16.0, 301)
    >>> p = reweight(np.exp(-0.5 * ((x - 15.5) / 0.2) ** 2), x, "flat", support=(13.2, 15.6))
    >>> float(p[x > 15.6 + 1e-9].max()), round(float(np.trapezoid(p, x)), 12)
    (0.0, 1.0)
    """
    check_prior(prior)
    support = check_support(support)
    pdfs = np.asarray(pdfs, float)
    if prior == "flat" and support is None:
        return pdfs
    grid = np.asarray(log_mass_grid, float)
    if prior == "flat":
        w = _inside(grid, support).astype(float)
    elif np.ndim(redshift) == 0:
        w = mass_function_prior(grid, redshift=redshift, universe=universe, support=support)
    else:  # one redshift per row: one mass function per distinct redshift
        z = np.asarray(redshift, float)
        if pdfs.ndim != 2 or z.shape != (pdfs.shape[0],):
            raise InvalidInputError(f"redshift must be one number or one per posterior"
                                    f" ({pdfs.shape[0] if pdfs.ndim == 2 else 1}),"
                                    f" got shape {z.shape}")
        values, which = np.unique(z, return_inverse=True)
        w = np.stack([mass_function_prior(grid, redshift=float(zi), universe=universe,
                                          support=support) for zi in values])
        w = w[0] if values.size == 1 else w[which]  # one redshift: broadcast, no copies
    out = pdfs * w
    norm = np.trapezoid(out, grid, axis=-1)
    if np.any(~(norm > 0)):
        raise InvalidInputError("a posterior vanishes after re-weighting")
    return out / np.expand_dims(norm, -1)
