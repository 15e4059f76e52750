"""A synthetic universe of galaxy clusters, calibrated on published simulation results.

Kodi Ramanah et al. (2020, MNRAS 499, 1985) trained their flows on mock
catalogues cut out of the MDPL2 simulation by the procedure of Ho et al.
(2019, ApJ 887, 25). We cannot reach MDPL2, so this module builds, host by
host, the galaxies such a simulation would put around a cluster, from
ingredients measured in cosmological simulations:

* **Hosts**: M200c from the Tinker et al. (2008, ApJ 688, 709) mass function
  at z = 0.117 in the Planck13 cosmology (which MDPL2 uses), through
  ``colossus`` (Diemer 2018, ApJS 239, 35); r200c and v200c from M200c.
* **Concentration**: the median c(M, z) of Diemer & Joyce (2019, ApJ 871,
  168) with a log-normal scatter of 0.15 dex (Bullock et al. 2001, MNRAS 321,
  559: 0.14 dex; Diemer & Kravtsov 2015, ApJ 799, 108: 0.16 dex).
* **Shape**: triaxial, with axis ratios close to those of cluster haloes in
  N-body simulations (Allgood et al. 2006, MNRAS 367, 1781) and a random
  orientation; the velocity ellipsoid is aligned with and rounder than the
  mass (Kasun & Evrard 2005, ApJ 629, 781).
* **Members**: galaxies above a fixed accreted mass (10^11 h^-1 Msun, the
  cut of Ho et al. 2019 and Kodi Ramanah et al. 2020); their number inside
  r200c follows a richness-mass relation with Poisson and log-normal intrinsic
  scatter (`SyntheticUniverse.richness_15` explains the choice); NFW positions
  with a galaxy concentration lower than the dark matter's (Budzynski et al.
  2012, MNRAS 423, 104).
* **Velocities**: the spherical Jeans equation for the host's NFW potential,
  with the anisotropy profile beta(r) = 0.5 r / (r + r_a) of Mamon & Lokas
  (2005, MNRAS 363, 705) and r_a = 1.4 r_s (Mamon, Biviano & Murante 2010,
  A&A 520, A30), solved numerically once (`nfw_jeans_table`) and interpolated;
  a velocity bias with log-normal scatter.
* **Substructure and mergers**: a fraction of the members arrive in groups
  (drawn from the unevolved subhalo mass function of Jiang & van den Bosch
  2016, MNRAS 458, 2848) that stay together in position and velocity.
* **Infall region and interlopers**: outside r200c the galaxy density around
  the host is the larger of the host's own NFW tail and the two-halo term
  b_host b_gal xi_lin(r) (Hayashi & White 2008, MNRAS 388, 2; halo bias of
  Tinker et al. 2010, ApJ 724, 878), plus neighbouring groups drawn from the
  mass function with the same clustering. These galaxies fall towards the
  host: their mean radial velocity turns around at about 4.5 r200c (Cupani,
  Mezzetti & Mardirossian 2008, MNRAS 390, 645) and joins the Hubble flow far
  away with the linear-theory slope (Peebles 1980). Their projected
  phase-space density, stacked, has the shape that Mamon, Biviano & Murante
  (2010) measured in a cosmological simulation (`mbm10_interloper_density`;
  see ``clustermass.mocks.validation``).

Every free number is a field of `SyntheticUniverse`, with its source.
Internal units: lengths in *physical* h^-1 Mpc relative to the host centre,
velocities in km/s, masses in h^-1 Msun.
"""

import dataclasses
import json
import math
import warnings
from dataclasses import dataclass, field

import numpy as np
from astropy import constants as const
from astropy import units as u

from ..exceptions import InvalidInputError

__all__ = [
    "SyntheticUniverse",
    "colossus_cosmology",
    "jeans_sigma_r2",
    "nfw_jeans_table",
    "nfw_enclosed_fraction",
    "mamon_lokas_beta",
    "mean_radial_velocity",
    "mbm10_interloper_density",
    "mbm10_interloper_number",
    "richness",
    "C_KMS",
    "G_GRAV",
]

#: Speed of light in km/s.
C_KMS = const.c.to_value(u.km / u.s)
#: Newton's constant in Mpc (km/s)^2 / Msun (so G M / r needs M in h^-1 Msun, r in h^-1 Mpc).
G_GRAV = const.G.to_value(u.Mpc * u.km**2 / u.s**2 / u.Msun)
#: Critical density today for H0 = 100 h km/s/Mpc, in h^2 Msun / Mpc^3.
RHO_CRIT_100 = 3.0 * 100.0**2 / (8.0 * np.pi * G_GRAV)

# Origin codes of mock galaxies (stored in the galaxy table).
ORIGIN_CENTRAL = 0  #: the host's central galaxy
ORIGIN_SATELLITE = 1  #: a satellite of the host, placed inside r200c
ORIGIN_SUBGROUP = 2  #: a satellite of the host that arrived in a group (substructure)
ORIGIN_INFALL = 3  #: the host's own galaxies beyond r200c (infall / backsplash zone)
ORIGIN_NEIGHBOUR = 4  #: a galaxy of a neighbouring group or cluster
ORIGIN_FIELD = 5  #: a field galaxy (haloes below ``neighbour_min_mass``) in the Hubble flow

ORIGIN_NAMES = {
    ORIGIN_CENTRAL: "central",
    ORIGIN_SATELLITE: "satellite",
    ORIGIN_SUBGROUP: "subgroup",
    ORIGIN_INFALL: "infall",
    ORIGIN_NEIGHBOUR: "neighbour",
    ORIGIN_FIELD: "field",
}


def _param(default, doc, ref="", unit=""):
    return field(default=default, metadata={"doc": doc, "ref": ref, "unit": unit})


@dataclass(frozen=True)
class SyntheticUniverse:
    """The parameters of the synthetic universe and of the mock observer.

    Every free number of the mock generator is a field here, with its source
    in the field's metadata (``SyntheticUniverse.describe()`` lists them all).
    Pass overrides as keyword arguments; the instance is immutable and
    hashable. Masses are in h^-1 Msun, lengths in h^-1 Mpc (physical),
    velocities in km/s.

    Examples
    --------
    >>> from clustermass.mocks import SyntheticUniverse
    >>> uni = SyntheticUniverse(richness_15=250.0)
    >>> uni.richness_15, uni.redshift
    (250.0, 0.117)
    >>> round(float(uni.mean_richness(1e15)), 1)
    250.0
    >>> 'concentration_scatter_dex' in uni.describe()['name']
    True
    """

    # -- epoch and cosmology ----------------------------------------------------
    redshift: float = _param(
        0.117, "Redshift of the mock clusters (MDPL2 snapshot 120).",
        "Ho et al. 2019, ApJ 887, 25; Kodi Ramanah et al. 2020, MNRAS 499, 1985")
    cosmology: str = _param(
        "Planck13", "astropy cosmology realization (H0, Om0, Ob0); Planck13 matches MDPL2.",
        "Planck Collaboration 2014, A&A 571, A16; Klypin et al. 2016, MNRAS 457, 4340")
    sigma8: float = _param(0.8288, "sigma_8 of the linear power spectrum (colossus).",
                           "Planck Collaboration 2014, A&A 571, A16")
    ns: float = _param(0.9611, "Spectral index n_s of the linear power spectrum.",
                       "Planck Collaboration 2014, A&A 571, A16")
    # -- hosts ------------------------------------------------------------------
    log_mass_min: float = _param(
        13.5, "Lowest host log10[M200c / (h^-1 Msun)].", "Ho et al. 2019", "dex")
    log_mass_max: float = _param(
        15.3, "Highest host log10[M200c / (h^-1 Msun)] (upper end of the flat training set).",
        "Ho et al. 2019; Kodi Ramanah et al. 2020 (Fig. 2)", "dex")
    mass_function: str = _param(
        "tinker08", "Halo mass function model (colossus name), M200c.",
        "Tinker et al. 2008, ApJ 688, 709")
    bias_model: str = _param("tinker10", "Linear halo bias model (colossus name).",
                             "Tinker et al. 2010, ApJ 724, 878")
    concentration_model: str = _param(
        "diemer19", "Median concentration-mass relation c200c(M, z) (colossus name).",
        "Diemer & Joyce 2019, ApJ 871, 168")
    concentration_scatter_dex: float = _param(
        0.15, "Log-normal scatter of c200c at fixed mass.",
        "Bullock et al. 2001, MNRAS 321, 559 (0.14 dex); Diemer & Kravtsov 2015, ApJ 799, 108"
        " (0.16 dex)", "dex")
    minor_axis_mean: float = _param(
        0.55, "Mean minor-to-major axis ratio s = c/a of host haloes (truncated normal).",
        "Allgood et al. 2006, MNRAS 367, 1781 (cluster-mass haloes)")
    minor_axis_sd: float = _param(0.1, "Standard deviation of s.", "Allgood et al. 2006")
    velocity_shape_exponent: float = _param(
        0.5, "The velocity ellipsoid has axis ratios (shape axis ratios)**exponent, aligned"
        " with the mass (0: isotropic velocities, 1: as elongated as the mass).",
        "Kasun & Evrard 2005, ApJ 629, 781 (aligned, rounder than the mass)")
    # -- galaxies ---------------------------------------------------------------
    galaxy_min_mass: float = _param(
        1e11, "Galaxies are (sub)haloes with accreted mass above this.",
        "Ho et al. 2019; Kodi Ramanah et al. 2020", "h^-1 Msun")
    richness_15: float = _param(
        200.0, "Mean number of satellites with M_acc >= galaxy_min_mass inside r200c of a"
        " 10^15 h^-1 Msun host. Chosen from the unevolved subhalo mass function"
        " (Jiang & van den Bosch 2016: ~1000 subhaloes ever accreted above 1e-4 M) times the"
        " fraction that survives stripping above the MDPL2 tracking limit and lies inside"
        " r200c (~20 %); of order the ~200 spectroscopic members of A1689 (HeCS).",
        "Jiang & van den Bosch 2016, MNRAS 458, 2848; Rines et al. 2013, ApJ 767, 15")
    richness_slope: float = _param(
        0.91, "Slope of N200 ∝ M200c**slope (self-similar: minus the slope of the subhalo"
        " mass function).", "Jiang & van den Bosch 2016 (alpha = -0.91)")
    richness_scatter: float = _param(
        0.18, "Intrinsic log-normal scatter (natural log) of the richness on top of Poisson.",
        "Boylan-Kolchin et al. 2010, MNRAS 406, 896")
    galaxy_concentration_ratio: float = _param(
        0.6, "Galaxy (subhalo) concentration divided by the dark-matter concentration.",
        "Budzynski et al. 2012, MNRAS 423, 104; Nagai & Kravtsov 2005, ApJ 618, 557")
    include_centrals: bool = _param(
        False, "Count central galaxies (of the host and of field haloes) as galaxies. Ho et al."
        " (2019) kept only subhaloes (upid != -1), so the default is False; with it the stacked"
        " interloper density matches Mamon et al. (2010) in shape and amplitude. True adds"
        " the field centrals (~3x more field interlopers).",
        "Ho et al. 2019 (halo_cnn mocks/make_mocks.py); Mamon, Biviano & Murante 2010")
    central_velocity_fraction: float = _param(
        0.3, "1D velocity dispersion of the central galaxy relative to the host, in units of"
        " the host's galaxy dispersion (0.65 v200c).",
        "Lauer et al. 2014, ApJ 797, 82 (BCG peculiar velocities)")
    # -- velocities -------------------------------------------------------------
    anisotropy_radius: float = _param(
        1.4, "Mamon-Lokas anisotropy radius r_a in units of the NFW scale radius r_s.",
        "Mamon & Lokas 2005, MNRAS 363, 705; Mamon, Biviano & Murante 2010, A&A 520, A30")
    velocity_bias: float = _param(
        1.0, "Median velocity bias b_v = sigma_gal / sigma_Jeans of member galaxies.",
        "Munari et al. 2013, MNRAS 430, 2638 (subhaloes: b_v ~ 1-1.1)")
    velocity_bias_scatter: float = _param(
        0.05, "Log-normal scatter (natural log) of b_v from host to host.",
        "Evrard et al. 2008, ApJ 672, 122 (sigma_ln sigma = 0.04 for dark matter)")
    # -- substructure -----------------------------------------------------------
    subgroup_survival: float = _param(
        0.2, "Fraction of accreted groups still coherent inside r200c (sets ~15 % of"
        " members in substructure).",
        "McGee et al. 2009, MNRAS 400, 937 (~30-40 % of cluster galaxies accreted in groups)")
    subgroup_min_ratio: float = _param(
        0.01, "Smallest accreted group mass, as a fraction of the host mass.", "")
    subgroup_tidal_fraction: float = _param(
        0.5, "Radius of a surviving group, as a fraction of its pre-infall r200c.", "")
    shmf_gamma: float = _param(0.22, "Unevolved subhalo mass function: gamma.",
                               "Jiang & van den Bosch 2016, MNRAS 458, 2848")
    shmf_alpha: float = _param(-0.91, "Unevolved subhalo mass function: alpha.",
                               "Jiang & van den Bosch 2016")
    shmf_beta: float = _param(6.0, "Unevolved subhalo mass function: beta.",
                              "Jiang & van den Bosch 2016")
    shmf_omega: float = _param(3.0, "Unevolved subhalo mass function: omega.",
                               "Jiang & van den Bosch 2016")
    # -- environment ------------------------------------------------------------
    neighbour_min_mass: float = _param(
        10**12.5, "Haloes above this mass around the host are placed as groups (with their"
        " satellites); lighter ones make the smooth field.", "", "h^-1 Msun")
    turnaround_radius: float = _param(
        4.5, "Radius (r200c units) where the mean radial velocity of infalling galaxies"
        " vanishes (~3.5 virial radii, r_vir ~ 1.3 r200c at z ~ 0.1).",
        "Cupani, Mezzetti & Mardirossian 2008, MNRAS 390, 645")
    infall_slope: float = _param(
        0.8, "Infall velocity ∝ r**-slope outside turnaround (linear theory with"
        " xi ∝ r**-1.8).", "Peebles 1980, The Large-Scale Structure of the Universe")
    infall_taper: float = _param(
        1.0, "Width (r200c units) over which the infall switches on outside r200c (zero mean"
        " radial velocity in the virialised region, largest infall ~0.4 v200c near 2 r200c).",
        "Cuesta et al. 2008, MNRAS 389, 385; Pivato, Padilla & Lambas 2006, MNRAS 373, 1409")
    outer_dispersion_factor: float = _param(
        0.8, "Random velocities of non-virialised galaxies (outside r200c) are the Jeans"
        " dispersion of the host's potential times this factor. The standard Jeans equation"
        " overestimates sigma_r by 20-40 % at 2-3 virial radii (Falco et al. 2016); 0.8 gives"
        " the stacked interlopers the velocity width of Mamon et al. (2010), sigma_i = 0.6 v200.",
        "Falco et al. 2016, 'Dynamical signatures of infall around galaxy clusters: a"
        " generalized Jeans equation' (arXiv preprint); Mamon, Biviano & Murante 2010")
    field_velocity_dispersion: float = _param(
        300.0, "1D random velocity of non-virialised galaxies relative to the host, added in"
        " quadrature to the Jeans dispersion of the host's potential.",
        "Sheth & Diaferio 2001, MNRAS 322, 901 (halo pairwise velocities)", "km/s")
    # -- observer (Ho et al. 2019) ------------------------------------------------
    aperture: float = _param(
        1.6, "Cylinder radius.", "Ho et al. 2019 ('medium' cut)", "h^-1 Mpc")
    velocity_cut: float = _param(
        2500.0, "Cylinder half-length in line-of-sight velocity.",
        "Ho et al. 2019 ('medium' cut)", "km/s")
    min_galaxies: int = _param(10, "Clusters with fewer galaxies are dropped.",
                               "Ho et al. 2019")
    frame: str = _param(
        "physical", "Projected radii in 'physical' h^-1 Mpc (as D_A theta h for real data)"
        " or 'comoving' (Ho et al. measured the aperture in comoving box units).", "")
    # -- catalogue splits ---------------------------------------------------------
    train_dn_dlogm: float = _param(
        1e-5, "Training set: target clusters per (h^-1 Mpc)^3 per dex; hosts rarer than this"
        " get extra lines of sight, commoner ones are down-sampled.",
        "Ho et al. 2019 (make_mocks.py 'dn_dlogm')", "(h/Mpc)^3 / dex")
    train_max_los: int = _param(
        0, "Cap on lines of sight per training host (0: no cap, as Ho et al.).", "")
    test_n_los: int = _param(1, "Lines of sight per test host.", "")

    # ---------------------------------------------------------------------------
    def __post_init__(self):
        def check(cond, msg):
            if not cond:
                raise InvalidInputError(msg)

        finite = [f.name for f in dataclasses.fields(self)
                  if isinstance(getattr(self, f.name), float)]
        for name in finite:
            check(np.isfinite(getattr(self, name)), f"{name} must be finite")
        check(0 < self.redshift < 2, f"redshift must be in (0, 2), got {self.redshift}")
        check(self.log_mass_min < self.log_mass_max,
              "log_mass_min must be smaller than log_mass_max")
        check(11.5 <= self.log_mass_min and self.log_mass_max <= 16.0,
              "host masses must lie in 10^11.5 - 10^16 h^-1 Msun")
        for name in ("sigma8", "ns", "richness_15", "galaxy_min_mass", "aperture",
                     "velocity_cut", "velocity_bias", "anisotropy_radius",
                     "galaxy_concentration_ratio", "neighbour_min_mass", "train_dn_dlogm",
                     "subgroup_tidal_fraction", "subgroup_min_ratio", "infall_taper"):
            check(getattr(self, name) > 0, f"{name} must be positive, got {getattr(self, name)}")
        for name in ("concentration_scatter_dex", "richness_scatter", "velocity_bias_scatter",
                     "field_velocity_dispersion", "central_velocity_fraction",
                     "subgroup_survival", "velocity_shape_exponent", "minor_axis_sd"):
            check(getattr(self, name) >= 0, f"{name} must be >= 0, got {getattr(self, name)}")
        check(0 < self.minor_axis_mean <= 1, "minor_axis_mean must be in (0, 1]")
        check(self.subgroup_min_ratio < 1, "subgroup_min_ratio must be < 1")
        check(self.turnaround_radius > 1, "turnaround_radius must exceed 1 (r200c units)")
        check(self.frame in ("physical", "comoving"),
              f"frame must be 'physical' or 'comoving', got {self.frame!r}")
        check(int(self.min_galaxies) == self.min_galaxies and self.min_galaxies >= 1,
              "min_galaxies must be a positive integer")
        check(int(self.train_max_los) == self.train_max_los and self.train_max_los >= 0,
              "train_max_los must be a non-negative integer")
        check(int(self.test_n_los) == self.test_n_los and self.test_n_los >= 1,
              "test_n_los must be a positive integer")
        check(self.galaxy_min_mass < self.neighbour_min_mass,
              "galaxy_min_mass must be below neighbour_min_mass")
        check(self.neighbour_min_mass < 10**self.log_mass_max,
              "neighbour_min_mass must be below the largest host mass")

    # -- description ------------------------------------------------------------
    @classmethod
    def parameter_names(cls):
        """Names of all parameters."""
        return [f.name for f in dataclasses.fields(cls)]

    def to_dict(self):
        """The parameters as a JSON-serialisable dict."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, d):
        """Build from `to_dict` output.

        Unknown keys raise `~clustermass.exceptions.InvalidInputError`.
        """
        names = set(cls.parameter_names())
        unknown = sorted(set(d) - names)
        if unknown:
            raise InvalidInputError(f"unknown SyntheticUniverse parameters: {unknown}")
        return cls(**d)

    def replace(self, **changes):
        """A copy with some parameters changed."""
        return self.from_dict({**self.to_dict(), **changes})

    def describe(self):
        """A `~astropy.table.Table` of all parameters: value, unit, meaning, source."""
        from astropy.table import Table

        rows = [(f.name, json.dumps(getattr(self, f.name)), f.metadata.get("unit", ""),
                 f.metadata.get("doc", ""), f.metadata.get("ref", ""))
                for f in dataclasses.fields(self)]
        return Table(rows=rows, names=("name", "value", "unit", "description", "reference"))

    # -- derived relations --------------------------------------------------------
    def mean_richness(self, m200c):
        """Mean number of satellites inside r200c (M_acc above ``galaxy_min_mass``)."""
        return richness(m200c, self.richness_15, self.richness_slope)

    def tables(self):
        """Precomputed tables (mass function, c(M), bias, xi, Jeans); cached."""
        key = self
        tab = _TABLE_CACHE.get(key)
        if tab is None:
            tab = _UniverseTables(self)
            if len(_TABLE_CACHE) > 8:
                _TABLE_CACHE.clear()
            _TABLE_CACHE[key] = tab
        return tab


_TABLE_CACHE = {}


def richness(m200c, n15, slope):
    """Richness-mass relation ``N200 = n15 (M200c / 1e15 h^-1 Msun)**slope``.

    Examples
    --------
    >>> from clustermass.mocks.universe import richness
    >>> float(richness(1e14, 200.0, 1.0))
    20.0
    """
    return n15 * (np.asarray(m200c, dtype=float) / 1e15) ** slope


# ---------------------------------------------------------------------------------------
# Profiles and the Jeans equation
# ---------------------------------------------------------------------------------------
def _mu(y):
    """NFW mass function m(y) = ln(1 + y) - y / (1 + y)."""
    y = np.asarray(y, dtype=float)
    return np.log1p(y) - y / (1.0 + y)


def nfw_enclosed_fraction(x, c):
    """Fraction M(<x r200) / M200 of an NFW halo of concentration ``c``.

    Examples
    --------
    >>> from clustermass.mocks.universe import nfw_enclosed_fraction
    >>> float(nfw_enclosed_fraction(1.0, 4.0))
    1.0
    """
    return _mu(np.asarray(c) * np.asarray(x)) / _mu(c)


def _nfw_inverse_cdf(p, c):
    """Radius x = r / r200 enclosing the fraction ``p`` of the mass inside r200 (NFW).

    Uses the closed form with the Lambert W function (e.g. Robotham & Howlett
    2018, Research Notes of the AAS): c x = -1 - 1 / W0(-exp(-1 - p m(c))).
    """
    from scipy.special import lambertw

    p = np.asarray(p, dtype=float)
    c = np.asarray(c, dtype=float)
    arg = -np.exp(-1.0 - p * _mu(c))
    w = lambertw(arg, 0).real
    return (-1.0 - 1.0 / w) / c


def mamon_lokas_beta(r, r_a):
    """Velocity anisotropy beta(r) = r / (2 (r + r_a)) of Mamon & Lokas (2005, eq. 60).

    Examples
    --------
    >>> from clustermass.mocks.universe import mamon_lokas_beta
    >>> float(mamon_lokas_beta(1.0, 1.0))
    0.25
    """
    r = np.asarray(r, dtype=float)
    return 0.5 * r / (r + r_a)


def jeans_sigma_r2(r, nu, mass, beta):
    """Radial velocity dispersion from the spherical Jeans equation.

    Solves ``d(nu sigma_r^2)/dr + 2 beta nu sigma_r^2 / r = -nu G M(r) / r^2``
    with ``sigma_r -> 0`` at the outer end of the grid (e.g. Binney & Tremaine
    2008, eq. 4.216; Mamon & Lokas 2005, eq. A3)::

        nu sigma_r^2 (r) = 1/f(r) int_r^inf f(s) nu(s) G M(s) / s^2 ds,
        f(r) = exp(int 2 beta / r dr),

    by the trapezoid rule in ln r. Units: G = 1, so ``mass`` is G M in
    (velocity unit)^2 x (length unit).

    Parameters
    ----------
    r : array-like
        Increasing radii (log-spaced is best); the outer end stands in for infinity,
        so it should lie far beyond the radii of interest.
    nu : array-like
        Tracer density at ``r`` (any normalisation).
    mass : array-like
        G M(<r) at ``r``.
    beta : float or array-like
        Velocity anisotropy at ``r``.

    Returns
    -------
    sigma_r2 : `~numpy.ndarray`
        sigma_r^2 at ``r``.

    Examples
    --------
    The singular isothermal sphere (nu ∝ r^-2, G M = r) with isotropic orbits has
    sigma_r^2 = 1/2:

    >>> import numpy as np
    >>> from clustermass.mocks.universe import jeans_sigma_r2
    >>> r = np.logspace(-3, 5, 4001)
    >>> s2 = jeans_sigma_r2(r, r**-2.0, r, 0.0)
    >>> round(float(np.interp(1.0, r, s2)), 4)
    0.5
    """
    r = np.asarray(r, dtype=float)
    nu = np.asarray(nu, dtype=float)
    mass = np.asarray(mass, dtype=float)
    beta = np.broadcast_to(np.asarray(beta, dtype=float), r.shape)
    if r.ndim != 1 or r.size < 3 or np.any(np.diff(r) <= 0) or r[0] <= 0:
        raise InvalidInputError("r must be a 1-D increasing array of positive radii")
    lnr = np.log(r)
    dln = np.diff(lnr)
    # ln f = int 2 beta d ln r
    two_beta = 2.0 * beta
    lnf = np.concatenate([[0.0], np.cumsum(0.5 * (two_beta[1:] + two_beta[:-1]) * dln)])
    lnf -= lnf[-1]
    f = np.exp(lnf)
    g = f * nu * mass / r  # integrand of d ln s: f nu M / s^2 * s
    seg = 0.5 * (g[1:] + g[:-1]) * dln
    tail = np.concatenate([np.cumsum(seg[::-1])[::-1], [0.0]])
    with np.errstate(divide="ignore", invalid="ignore"):
        return tail / (f * nu)


def nfw_jeans_table(c_grid, x_grid, *, tracer_ratio=1.0, anisotropy_radius=1.4,
                    x_inf=1e4, n_fine=6000):
    """sigma_r^2 / v200^2 of tracers in an NFW halo, on a grid of c and x = r / r200.

    The mass follows NFW with concentration c; the tracers follow NFW with
    concentration ``tracer_ratio * c``; the anisotropy is Mamon & Lokas (2005)
    with r_a = ``anisotropy_radius`` r_s. In units of r200 and v200 the Jeans
    solution depends on (c, x) only, so one table serves all hosts.

    Returns
    -------
    table : `~numpy.ndarray`
        Shape ``(len(c_grid), len(x_grid))``.

    Examples
    --------
    >>> import numpy as np
    >>> from clustermass.mocks.universe import nfw_jeans_table
    >>> t = nfw_jeans_table([4.0], [1.0], tracer_ratio=1.0, anisotropy_radius=1.4)
    >>> 0.4 < float(np.sqrt(t[0, 0])) < 0.8
    True
    """
    c_grid = np.atleast_1d(np.asarray(c_grid, dtype=float))
    x_grid = np.atleast_1d(np.asarray(x_grid, dtype=float))
    s = np.logspace(np.log10(min(1e-4, x_grid.min() / 2)), np.log10(x_inf), n_fine)
    out = np.empty((c_grid.size, x_grid.size))
    for i, c in enumerate(c_grid):
        cg = tracer_ratio * c
        nu = 1.0 / (cg * s * (1.0 + cg * s) ** 2)
        mass = nfw_enclosed_fraction(s, c)  # G M200 / r200 = v200^2 = 1
        beta = mamon_lokas_beta(s, anisotropy_radius / c)
        s2 = jeans_sigma_r2(s, nu, mass, beta)
        out[i] = np.exp(np.interp(np.log(x_grid), np.log(s[:-1]), np.log(s2[:-1])))
    return out


def mean_radial_velocity(x, v200, *, turnaround_radius=4.5, infall_slope=0.8,
                         infall_taper=1.0):
    """Mean radial (physical) velocity of galaxies around a host, relative to it.

    Zero inside r200c (virialised); outside, the Hubble flow minus an infall
    velocity that cancels it at the turnaround radius and decays as
    r**-infall_slope (linear theory for xi ∝ r^-1.8, Peebles 1980), switched
    on over ``infall_taper`` r200c::

        v(x) = T(x) v200 / 10 [x - x_ta (x_ta / x)**q],  T = 1 - exp(-(x - 1) / w),

    using H(z) r200c = v200 / 10 for Delta = 200c. With the defaults the
    largest infall is ~0.4 v200c near 2 r200c, cf. the ~900 km/s (~0.55 v200c)
    that Pivato, Padilla & Lambas (2006, MNRAS 373, 1409) found around the
    most massive simulated clusters.

    Parameters
    ----------
    x : array-like
        r / r200c.
    v200 : float or array-like
        Circular velocity at r200c in km/s.

    Examples
    --------
    >>> from clustermass.mocks.universe import mean_radial_velocity
    >>> float(mean_radial_velocity(0.5, 1000.0))
    0.0
    >>> abs(float(mean_radial_velocity(4.5, 1000.0))) < 1e-9
    True
    """
    x = np.asarray(x, dtype=float)
    xt = turnaround_radius
    with np.errstate(divide="ignore", invalid="ignore"):
        base = 0.1 * np.asarray(v200) * (x - xt * (xt / np.maximum(x, 1e-6)) ** infall_slope)
    taper = -np.expm1(-np.maximum(x - 1.0, 0.0) / infall_taper)
    return np.where(x > 1.0, taper * base, 0.0)


def mbm10_interloper_density(X, u):
    """Universal projected phase-space density of interlopers (Mamon, Biviano & Murante 2010).

    ``g_hat(X, u) = A(X) exp(-u^2 / (2 sigma_i(X)^2)) + B`` with
    ``log10 A = -1.061 + 0.364 X^2 - 0.580 X^4 + 0.533 X^6``,
    ``sigma_i = 0.612 - 0.0653 X^2`` and ``B = 0.0075``, where X = R / r200,
    u = v_los / v200 (the form used by MAMPOSSt, Mamon, Biviano & Boue 2013,
    MNRAS 429, 3079). g_hat is the number of interlopers per unit X^2-area
    (``dN = g_hat 2 pi X dX d|u|``) and per unit ``|u|``, in units of N_v, the number
    of tracers inside the virial sphere; it was fit for X < 1.

    Examples
    --------
    >>> from clustermass.mocks.universe import mbm10_interloper_density
    >>> round(float(mbm10_interloper_density(0.0, 0.0)), 4)
    0.0944
    """
    X = np.asarray(X, dtype=float)
    u = np.asarray(u, dtype=float)
    X2 = X * X
    A = 10.0 ** (-1.061 + 0.364 * X2 - 0.580 * X2**2 + 0.533 * X2**3)
    s = 0.612 - 0.0653 * X2
    return A * np.exp(-0.5 * (u / s) ** 2) + 0.0075


def mbm10_interloper_number(x_max, u_max, n_x=400):
    """Interlopers per virial-sphere member inside ``X < x_max`` and ``|u| < u_max`` (MBM10 form).

    ``N_i / N_v = 2 pi int_0^x_max X [sqrt(pi/2) A sigma_i erf(u_max / (sqrt2 sigma_i))
    + u_max B] dX``, as in MAMPOSSt.

    Examples
    --------
    >>> from clustermass.mocks.universe import mbm10_interloper_number
    >>> 0.1 < mbm10_interloper_number(1.0, 2.7 * 0.65) < 0.5
    True
    """
    from scipy.special import erf

    X = np.linspace(0.0, float(x_max), n_x)
    X2 = X * X
    A = 10.0 ** (-1.061 + 0.364 * X2 - 0.580 * X2**2 + 0.533 * X2**3)
    s = 0.612 - 0.0653 * X2
    integrand = X * (np.sqrt(np.pi / 2) * A * s * erf(u_max / (np.sqrt(2) * s)) + u_max * 0.0075)
    return float(2 * np.pi * np.trapezoid(integrand, X))


# ---------------------------------------------------------------------------------------
# Precomputed tables
# ---------------------------------------------------------------------------------------
class _UniverseTables:
    """Everything that depends on the parameters but not on a host: computed once.

    Picklable (plain numpy arrays and floats), so worker processes get a copy.
    """

    def __init__(self, uni):
        from ..phasespace import resolve_cosmology

        self.universe = uni
        z = uni.redshift
        astro = resolve_cosmology(uni.cosmology)
        self.h = float(astro.h)
        self.efunc = float(astro.efunc(z))
        self.hubble = 100.0 * self.efunc  # km/s per physical h^-1 Mpc
        self.rho_crit = RHO_CRIT_100 * self.efunc**2  # h^2 Msun / Mpc^3 (physical)
        self.a3 = (1.0 + z) ** 3  # comoving -> physical number densities
        self.cosmology_name = getattr(astro, "name", None) or repr(astro)
        self._comoving_distance_table(astro, z)

        cc = colossus_cosmology(astro, uni)
        from colossus.cosmology import cosmology as ccosmo
        from colossus.halo import concentration as cconc
        from colossus.lss import bias as cbias
        from colossus.lss import mass_function as cmf

        previous = getattr(ccosmo, "current_cosmo", None)
        ccosmo.setCurrent(cc)
        try:
            lm = np.linspace(np.log10(uni.galaxy_min_mass) - 0.5, 16.0, 701)
            m = 10**lm
            with warnings.catch_warnings():
                # colossus warns when a model is used outside its calibration range.
                warnings.simplefilter("ignore", UserWarning)
                dndlnm = cmf.massFunction(m, z, mdef="200c", model=uni.mass_function,
                                          q_out="dndlnM")
                cmed = cconc.concentration(m, "200c", z, model=uni.concentration_model,
                                           range_warning=False)
                bias = cbias.haloBias(m, z, "200c", model=uni.bias_model)
                r_xi = np.logspace(np.log10(0.02), np.log10(300.0), 160)
                xi = cc.correlationFunction(r_xi, z)
        finally:
            if previous is not None:
                ccosmo.setCurrent(previous)
        self.lm = lm
        self.dndlnm = np.asarray(dndlnm, float)  # comoving (h/Mpc)^3
        self.cmed = np.asarray(cmed, float)
        self.bias = np.asarray(bias, float)
        self.ln_r_xi = np.log(r_xi)  # comoving h^-1 Mpc
        self.xi = np.asarray(xi, float)

        # -- galaxy populations -----------------------------------------------------
        dln = np.gradient(lm) * np.log(10)
        cen = float(uni.include_centrals)
        nsat = uni.mean_richness(m)
        gal = m >= uni.galaxy_min_mass
        per_halo = np.where(gal, cen + nsat, 0.0)
        small = gal & (m < uni.neighbour_min_mass)
        big = m >= uni.neighbour_min_mass
        w = self.dndlnm * dln
        self.n_gal_total = float(np.sum((per_halo * w)[gal]))  # comoving
        self.b_gal_total = float(np.sum((per_halo * w * self.bias)[gal]) / self.n_gal_total)
        self.n_smooth = float(np.sum((per_halo * w)[small]))
        self.b_smooth = (float(np.sum((per_halo * w * self.bias)[small]) / self.n_smooth)
                         if self.n_smooth > 0 else 1.0)
        self.n_centrals = float(np.sum(w[gal]))
        self.n_satellites = float(np.sum((nsat * w)[gal]))
        # neighbours: number-weighted and bias-weighted mass CDFs
        lmb = lm[big]
        wb = w[big]
        self.nb_lm = lmb
        self.nb_number = float(np.sum(wb))
        self.nb_cdf = np.cumsum(wb) / np.sum(wb)
        self.nb_bias_number = float(np.sum(wb * self.bias[big]))
        self.nb_bias_cdf = np.cumsum(wb * self.bias[big]) / np.sum(wb * self.bias[big])

        # -- host mass distributions -----------------------------------------------------
        hl = np.linspace(uni.log_mass_min, uni.log_mass_max, 1001)
        dndlogm = np.interp(hl, lm, self.dndlnm) * np.log(10)
        self.host_lm = hl
        self.host_dndlogm = dndlogm
        cdf = np.concatenate([[0.0], np.cumsum(0.5 * (dndlogm[1:] + dndlogm[:-1]) * np.diff(hl))])
        self.host_cdf_mf = cdf / cdf[-1]
        nlos = np.ceil(uni.train_dn_dlogm / dndlogm - 1e-9)
        nlos = np.maximum(nlos, 1)
        if uni.train_max_los:
            nlos = np.minimum(nlos, uni.train_max_los)
        self.host_nlos_train = nlos.astype(np.int64)
        wt = 1.0 / nlos
        cdf = np.concatenate([[0.0], np.cumsum(0.5 * (wt[1:] + wt[:-1]) * np.diff(hl))])
        self.host_cdf_train = cdf / cdf[-1]

        # -- Jeans table ----------------------------------------------------------------
        self.ln_c = np.linspace(np.log(1.0), np.log(40.0), 64)
        self.ln_x = np.linspace(np.log(1e-3), np.log(2e3), 281)
        table = nfw_jeans_table(np.exp(self.ln_c), np.exp(self.ln_x),
                                tracer_ratio=uni.galaxy_concentration_ratio,
                                anisotropy_radius=uni.anisotropy_radius)
        self.ln_jeans = np.log(table)

        # -- subhalo (accreted group) mass function -----------------------------------------
        lmu = np.linspace(np.log(uni.subgroup_min_ratio), 0.0, 400)
        mu = np.exp(lmu)
        dn = uni.shmf_gamma * mu**uni.shmf_alpha * np.exp(-uni.shmf_beta * mu**uni.shmf_omega)
        cdf = np.concatenate([[0.0], np.cumsum(0.5 * (dn[1:] + dn[:-1]) * np.diff(lmu))])
        self.sub_lnmu = lmu
        self.sub_number = float(cdf[-1])
        self.sub_cdf = cdf / cdf[-1]

    # -- interpolation helpers ------------------------------------------------------------
    def _comoving_distance_table(self, astro, z):
        from .observer import distance_table

        self.dist_z, self.dist_chi, self.chi_cluster = distance_table(z, astro)

    def concentration(self, m):
        return np.interp(np.log10(m), self.lm, self.cmed)

    def halo_bias(self, m):
        return np.interp(np.log10(m), self.lm, self.bias)

    def xi_lin(self, r_phys):
        """Linear matter correlation function at physical separation r (h^-1 Mpc)."""
        r_com = np.asarray(r_phys, float) * (1.0 + self.universe.redshift)
        lr = np.log(np.clip(r_com, np.exp(self.ln_r_xi[0]), np.exp(self.ln_r_xi[-1])))
        return np.interp(lr, self.ln_r_xi, self.xi)

    def r200(self, m):
        """r200c in physical h^-1 Mpc."""
        return (3.0 * np.asarray(m, float) / (4.0 * np.pi * 200.0 * self.rho_crit)) ** (1 / 3)

    def v200(self, m):
        """Circular velocity at r200c, km/s: v200 = 10 H(z) r200c."""
        return 10.0 * self.hubble * self.r200(m)

    def jeans_sigma2(self, c, x):
        """sigma_r^2 / v200^2 by bilinear interpolation in (ln c, ln x)."""
        lc = np.clip(np.log(c), self.ln_c[0], self.ln_c[-1])
        lx = np.clip(np.log(np.maximum(x, 1e-12)), self.ln_x[0], self.ln_x[-1])
        fc = (lc - self.ln_c[0]) / (self.ln_c[1] - self.ln_c[0])
        fx = (lx - self.ln_x[0]) / (self.ln_x[1] - self.ln_x[0])
        ic = np.minimum(fc.astype(np.int64), self.ln_c.size - 2)
        ix = np.minimum(fx.astype(np.int64), self.ln_x.size - 2)
        tc = fc - ic
        tx = fx - ix
        t = self.ln_jeans
        val = ((1 - tc) * (1 - tx) * t[ic, ix] + tc * (1 - tx) * t[ic + 1, ix]
               + (1 - tc) * tx * t[ic, ix + 1] + tc * tx * t[ic + 1, ix + 1])
        return np.exp(val)


def colossus_cosmology(astro, uni):
    """The colossus cosmology that matches an astropy one and a universe's power spectrum.

    The mocks draw host masses and concentrations with it, and
    `clustermass.priors` weighs by the same mass function.

    Parameters
    ----------
    astro : `~astropy.cosmology.FLRW`
        Background cosmology (H0, matter, dark energy, baryons, CMB, Neff).
    uni : `SyntheticUniverse`
        Supplies ``sigma8`` and ``ns``, which astropy cosmologies lack.

    Returns
    -------
    cosmology : `colossus.cosmology.cosmology.Cosmology`
        Not made current; massive-neutrino warnings are off.
    """
    from colossus.cosmology import cosmology as ccosmo

    return ccosmo.Cosmology(
        name=f"clustermass-{getattr(astro, 'name', 'custom')}",
        flat=bool(abs(astro.Ok0) < 1e-8),
        Om0=float(astro.Om0), Ode0=float(astro.Ode0), Ob0=float(astro.Ob0 or 0.048),
        H0=float(astro.H0.value), sigma8=float(uni.sigma8), ns=float(uni.ns),
        Tcmb0=float(astro.Tcmb0.value) or 2.7255, Neff=float(astro.Neff),
        persistence="", print_warnings=False,
    )


# ---------------------------------------------------------------------------------------
# Random building blocks
# ---------------------------------------------------------------------------------------
def _unit_vectors(rng, n):
    v = rng.normal(size=(n, 3))
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return v


def _random_rotation(rng):
    """A uniformly random rotation matrix (from a random unit quaternion)."""
    q = rng.normal(size=4)
    q /= np.linalg.norm(q)
    w, x, y, z = q
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])


def _inverse_cdf(rng, n, grid, cdf):
    """Draw n values of a tabulated distribution (cdf increasing from 0 to 1)."""
    return np.interp(rng.random(n), cdf, grid)


def _lognormal_mean_one(rng, sigma, size=None):
    if sigma == 0:
        return np.ones(size) if size is not None else 1.0
    return np.exp(rng.normal(-0.5 * sigma * sigma, sigma, size))


def _jeans_velocity(rng, t, c, x, v200, unit_dirs, factor=1.0):
    """3D velocities with Jeans sigma_r(x) and sigma_t = sqrt(1 - beta) sigma_r."""
    s2 = t.jeans_sigma2(c, x) * np.asarray(v200) ** 2 * np.asarray(factor) ** 2
    beta = mamon_lokas_beta(x, t.universe.anisotropy_radius / np.asarray(c))
    sr = np.sqrt(s2)
    st = np.sqrt((1.0 - beta) * s2)
    g = rng.normal(size=unit_dirs.shape)
    gr = np.sum(g * unit_dirs, axis=1)
    return (sr * gr)[:, None] * unit_dirs + st[:, None] * (g - gr[:, None] * unit_dirs)


def _los_dispersion(t, c, x, v200, cos_theta):
    """Line-of-sight random velocity of non-virialised galaxies (Jeans + field, quadrature)."""
    uni = t.universe
    s2 = t.jeans_sigma2(c, x) * v200**2 * uni.outer_dispersion_factor**2
    beta = mamon_lokas_beta(x, uni.anisotropy_radius / c)
    sf2 = uni.field_velocity_dispersion**2
    return np.sqrt((s2 + sf2) * cos_theta**2 + ((1 - beta) * s2 + sf2) * (1 - cos_theta**2))


# ---------------------------------------------------------------------------------------
# One host
# ---------------------------------------------------------------------------------------
class Host:
    """A realised host halo and its own galaxies (3D, physical, relative to the centre)."""

    __slots__ = ("log_m", "m", "r200", "v200", "c", "c_gal", "b_v", "lam", "bias", "axes",
                 "rotation", "pos", "vel", "origin", "n_virial", "los_reach", "_smooth",
                 "_groups")

    def __repr__(self):
        return (f"Host(log_m={self.log_m:.3f}, r200={self.r200:.3f}, c={self.c:.2f},"
                f" n_galaxies={len(self.pos)}, n_virial={self.n_virial})")


def draw_host_mass(t, rng, split):
    """log10 M200c of a host: the mass function ('test') or flat with LOS boosting ('train')."""
    cdf = t.host_cdf_mf if split == "test" else t.host_cdf_train
    return float(np.interp(rng.random(), cdf, t.host_lm))


def n_lines_of_sight(t, log_m, split):
    """Lines of sight of a host: Ho et al. (2019) boosting for 'train', fixed for 'test'."""
    if split == "test":
        return int(t.universe.test_n_los)
    i = int(np.clip(np.searchsorted(t.host_lm, log_m), 0, t.host_lm.size - 1))
    return int(t.host_nlos_train[i])


def realise_host(t, log_m, rng):
    """Draw a host halo and its own galaxies (members, substructure, infall zone).

    Parameters
    ----------
    t : table object from `SyntheticUniverse.tables`
    log_m : float
        log10[M200c / (h^-1 Msun)].
    rng : `numpy.random.Generator`

    Returns
    -------
    host : `Host`
    """
    uni = t.universe
    h = Host()
    h.log_m = float(log_m)
    h.m = 10.0**log_m
    h.r200 = float(t.r200(h.m))
    h.v200 = float(t.v200(h.m))
    c = float(t.concentration(h.m)) * 10.0 ** (uni.concentration_scatter_dex * rng.normal())
    h.c = float(np.clip(c, 1.5, 35.0))
    h.c_gal = uni.galaxy_concentration_ratio * h.c
    h.b_v = uni.velocity_bias * math.exp(uni.velocity_bias_scatter * rng.normal())
    h.lam = float(uni.mean_richness(h.m) * _lognormal_mean_one(rng, uni.richness_scatter))
    h.bias = float(t.halo_bias(h.m))
    s = float(np.clip(rng.normal(uni.minor_axis_mean, uni.minor_axis_sd), 0.3, 1.0))
    q = float(rng.uniform(s, 1.0))
    h.axes = np.array([1.0, q, s]) / (q * s) ** (1 / 3)
    h.rotation = _random_rotation(rng)

    # Radial distribution of the host's own galaxies: NFW inside r200c, the part of the
    # NFW tail above the two-halo term outside (Hayashi & White 2008).
    cg = h.c_gal
    xg = np.logspace(0.0, 1.0, 129)
    n_nfw = (h.lam / (4 * np.pi * h.r200**3) * cg**3 / _mu(cg)
             / (cg * xg * (1 + cg * xg) ** 2))
    n_field = (t.n_gal_total * t.a3
               * (1.0 + t.b_gal_total * h.bias * np.maximum(t.xi_lin(xg * h.r200), 0.0)))
    dn = 4 * np.pi * h.r200**3 * xg**3 * np.maximum(n_nfw - n_field, 0.0)  # dN / d ln x
    cum_out = np.concatenate([[0.0], np.cumsum(0.5 * (dn[1:] + dn[:-1]) * np.diff(np.log(xg)))])
    n_exp = h.lam + float(cum_out[-1])
    n_own = int(rng.poisson(n_exp))
    draw = rng.random(n_own) * n_exp
    inner = draw < h.lam
    xs = np.empty(n_own)
    xs[inner] = _nfw_inverse_cdf(draw[inner] / h.lam, cg)
    xs[~inner] = np.interp(draw[~inner] - h.lam, cum_out, xg)

    dirs = _unit_vectors(rng, n_own)
    local = dirs * xs[:, None] * h.axes  # stretched, principal frame, r200 units
    vel_local = _jeans_velocity(rng, t, h.c, xs, h.v200, dirs,
                                np.where(xs > 1.0, uni.outer_dispersion_factor, 1.0))
    gamma = uni.velocity_shape_exponent
    sv = h.axes**gamma / np.sqrt(np.mean(h.axes ** (2 * gamma)))
    vel_local *= sv
    pos = (local @ h.rotation.T) * h.r200
    vel = vel_local @ h.rotation.T
    r = np.linalg.norm(pos, axis=1)
    inside = r < h.r200
    origin = np.where(inside, ORIGIN_SATELLITE, ORIGIN_INFALL).astype(np.uint8)
    # virialised members move with a velocity bias; the others fall in with the mean flow
    vel[inside] *= h.b_v
    out = ~inside
    if np.any(out):
        xr = r[out] / h.r200
        rhat = pos[out] / r[out, None]
        vel[out] += (mean_radial_velocity(xr, h.v200, turnaround_radius=uni.turnaround_radius,
                                          infall_slope=uni.infall_slope,
                                          infall_taper=uni.infall_taper)[:, None] * rhat
                     + rng.normal(0.0, uni.field_velocity_dispersion, size=(int(out.sum()), 3)))

    # Substructure: accreted groups that still move together (Jiang & van den Bosch 2016).
    idx_in = np.flatnonzero(inside)
    n_sub = int(rng.poisson(uni.subgroup_survival * t.sub_number)) if idx_in.size > 2 else 0
    free = np.ones(n_own, dtype=bool)
    for _ in range(n_sub):
        mu = math.exp(float(_inverse_cdf(rng, 1, t.sub_lnmu, t.sub_cdf)[0]))
        msub = mu * h.m
        n_k = 1 + int(rng.poisson(uni.mean_richness(msub)
                                  * _lognormal_mean_one(rng, uni.richness_scatter)))
        avail = idx_in[free[idx_in]]
        if avail.size < 2 or n_k < 2:
            continue
        pick = rng.choice(avail, size=min(n_k, avail.size), replace=False)
        free[pick] = False
        centre, bulk = pos[pick[0]].copy(), vel[pick[0]].copy()
        rest = pick[1:]
        csub = float(t.concentration(msub))
        r_t = uni.subgroup_tidal_fraction * float(t.r200(msub))
        xsub = _nfw_inverse_cdf(rng.random(rest.size), uni.galaxy_concentration_ratio * csub)
        d = _unit_vectors(rng, rest.size)
        pos[rest] = centre + d * (xsub * r_t)[:, None]
        vel[rest] = bulk + _jeans_velocity(rng, t, csub, xsub * uni.subgroup_tidal_fraction,
                                           float(t.v200(msub)), d)
        origin[pick] = ORIGIN_SUBGROUP

    if uni.include_centrals:
        sig_bcg = uni.central_velocity_fraction * 0.65 * h.v200 * h.b_v
        pos = np.vstack([np.zeros((1, 3)), pos])
        vel = np.vstack([rng.normal(0.0, sig_bcg, size=(1, 3)), vel])
        origin = np.concatenate([[ORIGIN_CENTRAL], origin]).astype(np.uint8)
    h.pos = pos
    h.vel = vel
    h.origin = origin
    h.n_virial = int(np.sum(np.linalg.norm(pos, axis=1) < h.r200))
    h.los_reach = _los_reach(t, h)
    h._smooth = None
    h._groups = None
    return h


def _los_reach(t, h, margin=1000.0):
    """Physical LOS distance beyond which no galaxy can enter the velocity window.

    Beyond it the mean flow minus five times the random velocity (and a margin
    for the internal motions of neighbouring groups) exceeds the velocity cut.
    """
    uni = t.universe
    x = np.linspace(1.0, 300.0, 6000)
    vbar = mean_radial_velocity(x, h.v200, turnaround_radius=uni.turnaround_radius,
                                infall_slope=uni.infall_slope, infall_taper=uni.infall_taper)
    sig = np.sqrt(t.jeans_sigma2(h.c, x) * h.v200**2 + uni.field_velocity_dispersion**2)
    bad = np.flatnonzero(vbar - 5.0 * sig <= uni.velocity_cut + margin)
    i = min(bad[-1] + 1 if bad.size else 0, x.size - 1)
    return float(max(x[i] * h.r200, uni.velocity_cut / t.hubble))


def _shell_sampler(r_in, aperture, reach, density):
    """Tabulate the radial CDF of galaxies with density(r) inside the cylinder, r > r_in.

    The fraction of a sphere of radius r inside the cylinder R < aperture,
    |l| < reach is the band of |cos theta| in [sqrt(1 - (a/r)^2), min(1, reach/r)].
    """
    r_max = math.hypot(aperture, reach)
    r = np.geomspace(max(r_in, 1e-3), r_max, 400)
    lo = np.sqrt(np.clip(1.0 - (aperture / r) ** 2, 0.0, 1.0))
    hi = np.minimum(1.0, reach / r)
    frac = np.clip(hi - lo, 0.0, None)
    dn = 4 * np.pi * r**3 * density(r) * frac  # dN / d ln r
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (dn[1:] + dn[:-1]) * np.diff(np.log(r)))])
    return r, cdf


def _sample_shell(rng, n, r_grid, cdf, aperture, reach):
    """Positions (R, l) of n galaxies from a tabulated shell CDF."""
    r = np.interp(rng.random(n) * cdf[-1], cdf, r_grid)
    lo = np.sqrt(np.clip(1.0 - (aperture / r) ** 2, 0.0, 1.0))
    hi = np.minimum(1.0, reach / r)
    mu = lo + rng.random(n) * np.clip(hi - lo, 0.0, None)
    mu *= np.where(rng.random(n) < 0.5, -1.0, 1.0)
    R = r * np.sqrt(np.clip(1.0 - mu * mu, 0.0, None))
    return r, R, r * mu


def _environment_tables(t, h, aperture):
    """Per-host CDFs of the smooth field and of the neighbour groups (reused for every LOS)."""
    reach = h.los_reach
    xi = t.xi_lin
    n_s = t.n_smooth * t.a3
    bb = t.b_smooth * h.bias

    def smooth(r):
        return n_s * (1.0 + bb * np.maximum(xi(r), 0.0))

    h._smooth = _shell_sampler(h.r200, aperture, reach, smooth)
    # groups: centres in a slightly wider cylinder, so that their galaxies can spill in
    ag = aperture + 1.0
    n_nb = t.nb_number * t.a3
    n_b = t.nb_bias_number * t.a3 * h.bias

    def clustered(r):
        return n_b * np.maximum(xi(r), 0.0)

    r_grid, cdf = _shell_sampler(h.r200, ag, reach, clustered)
    volume = np.pi * ag**2 * 2 * reach
    h._groups = (ag, n_nb * volume, r_grid, cdf)


def observe_host(t, h, nhat, rng_env, *, environment=True):
    """Project a host along ``nhat`` and add the line-of-sight environment.

    Returns
    -------
    R, v, member, origin : arrays
        Projected radius (h^-1 Mpc in ``frame``), relative LOS velocity (km/s)
        from the relativistic composition of Ho et al. (2019), true-member flag
        (inside r200c in 3D) and origin code, for all galaxies in the cylinder.
    """
    from .observer import relative_velocity

    uni = t.universe
    zc = uni.redshift
    to_frame = (1.0 + zc) if uni.frame == "comoving" else 1.0
    aperture = uni.aperture / to_frame  # physical

    ell = h.pos @ nhat
    R = np.sqrt(np.maximum(np.einsum("ij,ij->i", h.pos, h.pos) - ell**2, 0.0))
    vlos = h.vel @ nhat
    member = np.linalg.norm(h.pos, axis=1) < h.r200
    origin = h.origin
    parts_R, parts_l, parts_v, parts_m, parts_o = [R], [ell], [vlos], [member], [origin]

    if environment:
        if h._smooth is None:
            _environment_tables(t, h, aperture)
        reach = h.los_reach
        # smooth field galaxies
        r_grid, cdf = h._smooth
        n = int(rng_env.poisson(cdf[-1]))
        r, Rs, ls = _sample_shell(rng_env, n, r_grid, cdf, aperture, reach)
        x = r / h.r200
        mu = ls / np.maximum(r, 1e-12)
        vbar = mean_radial_velocity(x, h.v200, turnaround_radius=uni.turnaround_radius,
                                    infall_slope=uni.infall_slope, infall_taper=uni.infall_taper)
        vs = vbar * mu + rng_env.normal(size=n) * _los_dispersion(t, h.c, x, h.v200, mu)
        parts_R.append(Rs)
        parts_l.append(ls)
        parts_v.append(vs)
        parts_m.append(np.zeros(n, bool))
        parts_o.append(np.full(n, ORIGIN_FIELD, np.uint8))
        # neighbouring groups and clusters
        gR, gl, gv = _neighbour_groups(t, h, rng_env)
        parts_R.append(gR)
        parts_l.append(gl)
        parts_v.append(gv)
        parts_m.append(np.zeros(gR.size, bool))
        parts_o.append(np.full(gR.size, ORIGIN_NEIGHBOUR, np.uint8))

    R = np.concatenate(parts_R)
    ell = np.concatenate(parts_l)
    vlos = np.concatenate(parts_v)
    member = np.concatenate(parts_m)
    origin = np.concatenate(parts_o)
    # Observer (Ho et al. 2019): comoving LOS offset -> redshift -> Hubble velocity, composed
    # relativistically with the peculiar velocity (physical velocity minus Hubble flow).
    dchi = ell * (1.0 + zc)
    vpec = vlos - t.hubble * ell
    v = relative_velocity(dchi, vpec, 0.0, t.dist_z, t.dist_chi, t.chi_cluster)
    R_out = R * to_frame
    keep = (R_out < uni.aperture) & (np.abs(v) < uni.velocity_cut)
    return R_out[keep], v[keep], member[keep], origin[keep]


def _neighbour_groups(t, h, rng):
    """Galaxies of neighbouring haloes (M >= neighbour_min_mass) in this line of sight."""
    uni = t.universe
    ag, n_uniform, r_grid, cdf = h._groups
    reach = h.los_reach
    n1 = int(rng.poisson(n_uniform))
    n2 = int(rng.poisson(cdf[-1]))
    # uniform part
    R1 = ag * np.sqrt(rng.random(n1))
    l1 = reach * (2 * rng.random(n1) - 1)
    lm1 = _inverse_cdf(rng, n1, t.nb_lm, t.nb_cdf)
    # clustered part
    _, R2, l2 = _sample_shell(rng, n2, r_grid, cdf, ag, reach)
    lm2 = _inverse_cdf(rng, n2, t.nb_lm, t.nb_bias_cdf)
    Rc = np.concatenate([R1, R2])
    lc = np.concatenate([l1, l2])
    lmc = np.concatenate([lm1, lm2])
    mc = 10**lmc
    rc = np.hypot(Rc, lc)
    r200g = t.r200(mc)
    ok = rc > h.r200 + r200g  # halo exclusion
    Rc, lc, mc, rc, r200g = Rc[ok], lc[ok], mc[ok], rc[ok], r200g[ok]
    ng = Rc.size
    if ng == 0:
        return np.empty(0), np.empty(0), np.empty(0)
    phi = rng.random(ng) * 2 * np.pi
    cx, cy = Rc * np.cos(phi), Rc * np.sin(phi)
    x = rc / h.r200
    mu = lc / rc
    vbar = mean_radial_velocity(x, h.v200, turnaround_radius=uni.turnaround_radius,
                                infall_slope=uni.infall_slope, infall_taper=uni.infall_taper)
    vbulk = vbar * mu + rng.normal(size=ng) * _los_dispersion(t, h.c, x, h.v200, mu)
    nsat = rng.poisson(uni.mean_richness(mc) * _lognormal_mean_one(rng, uni.richness_scatter,
                                                                    ng))
    cen = int(uni.include_centrals)
    counts = nsat + cen
    total = int(counts.sum())
    if total == 0:
        return np.empty(0), np.empty(0), np.empty(0)
    gi = np.repeat(np.arange(ng), counts)
    # the first galaxy of each group is its central (when centrals are included)
    first = np.zeros(total, bool)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    if cen:
        first[starts[counts > 0]] = True
    cgal = uni.galaxy_concentration_ratio * t.concentration(mc)
    xg = _nfw_inverse_cdf(rng.random(total), cgal[gi])
    xg[first] = 0.0
    d = _unit_vectors(rng, total)
    off = d * (xg * r200g[gi])[:, None]
    vint = _jeans_velocity(rng, t, t.concentration(mc)[gi], np.maximum(xg, 1e-3),
                           t.v200(mc)[gi], d)
    v200g = t.v200(mc)[gi]
    vint[first] = rng.normal(0.0, uni.central_velocity_fraction * 0.65, (first.sum(), 3)) \
        * v200g[first, None]
    gx = cx[gi] + off[:, 0]
    gy = cy[gi] + off[:, 1]
    gl = lc[gi] + off[:, 2]
    gv = vbulk[gi] + vint[:, 2]
    return np.hypot(gx, gy), gl, gv
