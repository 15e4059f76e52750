"""Classical mass estimators, the baselines the flows must beat.

The M-sigma estimator converts the velocity dispersion of the galaxies into
M200c through the scaling relation of dark-matter particles in simulations,
Evrard et al. (2008, ApJ 672, 122, eq. 1 and Table 3):

    sigma_DM = sigma_15 [h(z) M200c / 1e15 Msun]^alpha,
    sigma_15 = 1082.9 +- 4.0 km/s,  alpha = 0.3361 +- 0.0026,

with ``h(z) = H(z) / (100 km/s/Mpc)`` and a log-normal scatter of sigma at fixed
mass of ``sigma_ln sigma = 0.0426``. The dispersion of the galaxies is the
biweight scale (Beers, Flynn & Gebhardt 1990, AJ 100, 32), robust to outliers;
as in Kodi Ramanah et al. (2020) no interlopers are removed, all galaxies in
the phase-space window are used. The uncertainty comes from bootstrap
resampling of the galaxies, convolved with the intrinsic scatter of the
relation.
"""

from dataclasses import dataclass

import numpy as np
from astropy import units as u

from ._stats import biweight_dispersion
from ._units import EVRARD_ALPHA, EVRARD_SIGMA15, V_UNIT, value_in
from .exceptions import InvalidInputError
from .phasespace import PhaseSpaceGrid, resolve_cosmology
from .posterior import MassPosterior

__all__ = ["ScalingRelation", "EVRARD08", "velocity_dispersion", "msigma_log_mass", "msigma",
           "MSigmaEstimator", "MSIGMA"]


@dataclass(frozen=True)
class ScalingRelation:
    """A power-law M-sigma relation ``sigma = sigma_15 [h(z) M / 1e15 Msun]^alpha``.

    Attributes
    ----------
    sigma_15 : `~astropy.units.Quantity` ['speed']
        Dispersion of a cluster with h(z) M200c = 1e15 Msun.
    alpha : float
        Logarithmic slope.
    scatter_ln_sigma : float
        Log-normal scatter of sigma at fixed mass (natural log).
    reference : str
        Source of the numbers.
    """

    sigma_15: u.Quantity
    alpha: float
    scatter_ln_sigma: float
    reference: str

    @property
    def scatter_dex(self):
        """Scatter of log10 M at fixed sigma implied by ``scatter_ln_sigma``, in dex."""
        return self.scatter_ln_sigma / self.alpha / np.log(10)


#: Evrard et al. (2008, ApJ 672, 122) relation for dark-matter particles, M200c.
EVRARD08 = ScalingRelation(
    sigma_15=EVRARD_SIGMA15 * V_UNIT,
    alpha=EVRARD_ALPHA,
    scatter_ln_sigma=0.0426,
    reference="Evrard et al. 2008, ApJ 672, 122",
)


def velocity_dispersion(v, /):
    """Biweight velocity dispersion of galaxies (Beers, Flynn & Gebhardt 1990).

    Parameters
    ----------
    v : `~astropy.units.Quantity` ['speed'] or array-like
        Line-of-sight velocities (plain numbers are taken to be km/s).

    Returns
    -------
    sigma : `~astropy.units.Quantity` ['speed']

    Examples
    --------
    >>> import numpy as np
    >>> import astropy.units as u
    >>> from clustermass.baselines import velocity_dispersion
    >>> v = np.random.default_rng(1).normal(0, 1000, 20000) * u.km / u.s
    >>> float(round(velocity_dispersion(v).to_value(u.km / u.s), -1))
    1000.0
    """
    vv = value_in(v, V_UNIT, "v").ravel()
    if vv.size < 2 or not np.all(np.isfinite(vv)):
        raise InvalidInputError("need at least two finite velocities")
    return biweight_dispersion(vv) * V_UNIT


def msigma_log_mass(sigma, redshift, /, *, cosmology=None, relation=EVRARD08):
    """log10[M200c / (h^-1 Msun)] implied by a velocity dispersion.

    Inverts ``sigma = sigma_15 [h(z) M / 1e15 Msun]^alpha``:
    ``M h = 1e15 (sigma / sigma_15)^(1/alpha) / E(z)`` in h^-1 Msun, with
    ``E(z) = H(z) / H0``.

    Examples
    --------
    >>> import astropy.units as u
    >>> from astropy.cosmology import Planck13
    >>> from clustermass.baselines import msigma_log_mass
    >>> msigma_log_mass(1082.9 * u.km / u.s, 0.0, cosmology=Planck13)  # doctest: +FLOAT_CMP
    15.0
    """
    cosmo = resolve_cosmology(cosmology)
    s = value_in(sigma, V_UNIT, "sigma")
    if np.any(s <= 0):
        raise InvalidInputError("velocity dispersions must be positive")
    ratio = s / relation.sigma_15.to_value(V_UNIT)
    log_m = 15.0 + np.log10(ratio) / relation.alpha - np.log10(cosmo.efunc(float(redshift)))
    return float(log_m) if np.ndim(log_m) == 0 else log_m


def msigma(v, redshift, /, *, cosmology=None, relation=EVRARD08, n_bootstrap=1000, seed=0,
           intrinsic_scatter=True, meta=None):
    """M-sigma mass posterior of a cluster from its galaxies' velocities.

    Parameters
    ----------
    v : `~astropy.units.Quantity` ['speed']
        Line-of-sight velocities of the galaxies in the window.
    redshift : float
        Cluster redshift.
    cosmology : `~astropy.cosmology.Cosmology`, optional
        For E(z); default Planck13 (see `~clustermass.phasespace.resolve_cosmology`).
    relation : `ScalingRelation`, optional
        Default `EVRARD08`.
    n_bootstrap : int, optional
        Bootstrap resamples of the galaxies.
    seed : int, optional
        Seed of the bootstrap.
    intrinsic_scatter : bool, optional
        Add the relation's log-normal scatter (``relation.scatter_dex``) to the
        bootstrap samples.

    Returns
    -------
    posterior : `~clustermass.posterior.MassPosterior`

    Examples
    --------
    >>> import numpy as np
    >>> import astropy.units as u
    >>> from astropy.cosmology import Planck13
    >>> from clustermass.baselines import msigma
    >>> v = np.random.default_rng(2).normal(0, 1000, 300) * u.km / u.s
    >>> post = msigma(v, 0.05, cosmology=Planck13)
    >>> 14.7 < post.median < 15.0
    True
    """
    vv = value_in(v, V_UNIT, "v").ravel()
    if vv.size < 3:
        raise InvalidInputError(f"M-sigma needs at least 3 galaxies, got {vv.size}")
    if not np.all(np.isfinite(vv)):
        raise InvalidInputError("velocities must not contain NaN or infinite values")
    cosmo = resolve_cosmology(cosmology)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, vv.size, size=(int(n_bootstrap), vv.size))
    boot = biweight_dispersion(vv[idx], axis=1)
    boot = boot[np.isfinite(boot) & (boot > 0)]
    if boot.size < 10:
        raise InvalidInputError("the velocities have no measurable dispersion")
    samples = msigma_log_mass(boot * V_UNIT, redshift, cosmology=cosmo, relation=relation)
    if intrinsic_scatter:
        samples = samples + rng.normal(0.0, relation.scatter_dex, samples.size)
    sigma = velocity_dispersion(vv)
    info = {
        "method": "msigma",
        "relation": relation.reference,
        "velocity_dispersion": sigma.to_value(V_UNIT),
        "velocity_dispersion_unit": "km / s",
        "n_galaxies": int(vv.size),
        "n_bootstrap": int(n_bootstrap),
        "seed": seed,
        "cosmology": getattr(cosmo, "name", None) or repr(cosmo),
        **(meta or {}),
    }
    return MassPosterior.from_samples(samples, method="msigma", meta=info)


class MSigmaEstimator:
    """The M-sigma relation as a model that `clustermass.core.ClusterMass.infer` can use.

    What `clustermass.models.load_model` returns for ``"msigma"``: like a
    flow it has a ``name`` and a phase-space `grid` (whose window selects the
    galaxies), but it reads the galaxies' velocities rather than a histogram
    (`posterior_from_velocities`, which is `msigma`).

    Parameters
    ----------
    relation : `ScalingRelation`, optional
        Default `EVRARD08`.
    name : str, optional
        What posteriors record as their ``method``.

    Examples
    --------
    >>> import numpy as np
    >>> import astropy.units as u
    >>> from clustermass.baselines import MSIGMA
    >>> v = np.random.default_rng(2).normal(0, 1000, 300) * u.km / u.s
    >>> post = MSIGMA.posterior_from_velocities(v, 0.05)
    >>> post.method
    'msigma'
    """

    def __init__(self, relation=EVRARD08, *, name="msigma"):
        self.relation = relation
        self.name = str(name)

    @property
    def label(self):
        """A human-readable description, e.g. for plot legends."""
        return f"M-sigma ({self.relation.reference})"

    @property
    def grid(self):
        """The window of the galaxies used: the default `~clustermass.phasespace.PhaseSpaceGrid`."""
        return PhaseSpaceGrid()

    def posterior_from_velocities(self, v, redshift, /, *, cosmology=None, n_bootstrap=1000,
                                  seed=0, meta=None):
        """The mass posterior from the velocities of the galaxies in the window.

        The arguments are those of `msigma` (with this estimator's relation).

        Returns
        -------
        posterior : `~clustermass.posterior.MassPosterior`
        """
        return msigma(v, redshift, cosmology=cosmology, relation=self.relation,
                      n_bootstrap=n_bootstrap, seed=seed, meta=meta)

    def __repr__(self):
        return f"{type(self).__name__}(name={self.name!r}, relation={self.relation.reference!r})"


#: The M-sigma estimator with the Evrard et al. (2008) relation (model name ``"msigma"``).
MSIGMA = MSigmaEstimator()
