"""A synthetic universe of galaxy clusters, calibrated on published simulation results.

Kodi Ramanah et al. (2020, MNRAS 499, 1985) trained their flows on mock
catalogues cut out of the MDPL2 simulation by the procedure of Ho et al.
(2019, ApJ 887, 25). We cannot reach MDPL2, so this module builds, host by
host, the galaxies such a simulation would put around a cluster, from
ingredients measured in cosmological simulations:

* **Hosts**: M200c from the Tinker et al. (2008, ApJ 688, 709) mass function
  at the redshift of MDPL2 snapshot 120 in the Planck13 cosmology (which MDPL2
  uses; `clustermass.priors.MDPL2_UNIVERSE`), through
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
  see ``clustermass.mocks.fits``).

Every free number is a field of `SyntheticUniverse`, with its source.
Internal units: lengths in *physical* h^-1 Mpc relative to the host centre,
velocities in km/s, masses in h^-1 Msun.

This module holds the parameters and the tables computed from them once per
universe (mass function, concentrations, bias, correlation function, Jeans
solution); the profiles are in `clustermass.mocks.profiles`, the hosts and
their lines of sight in `clustermass.mocks.hosts`. The profile functions are
also importable from here, where they used to live.
"""

import dataclasses
import json
import warnings
from dataclasses import dataclass, field

import numpy as np
from astropy import constants as const
from astropy import units as u

from .._colossus import colossus_cosmology, using_colossus_cosmology
from .._parsing import parse_overrides
from ..exceptions import InvalidInputError
from ..phasespace import resolve_cosmology
from ..priors import MDPL2_UNIVERSE
from .geometry import distance_table
from .profiles import (  # noqa: F401 - the others stay importable from here, their old home
    jeans_sigma_r2,
    mamon_lokas_beta,
    mbm10_interloper_density,
    mbm10_interloper_number,
    mean_radial_velocity,
    nfw_enclosed_fraction,
    nfw_jeans_table,
    richness,
)

__all__ = ["SyntheticUniverse", "G_GRAV", "RHO_CRIT_100"]

#: Newton's constant in Mpc (km/s)^2 / Msun (so G M / r needs M in h^-1 Msun, r in h^-1 Mpc).
G_GRAV = const.G.to_value(u.Mpc * u.km**2 / u.s**2 / u.Msun)
#: Critical density today for H0 = 100 h km/s/Mpc, in h^2 Msun / Mpc^3.
RHO_CRIT_100 = 3.0 * 100.0**2 / (8.0 * np.pi * G_GRAV)


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
    >>> from clustermass.priors import MDPL2_UNIVERSE
    >>> uni.richness_15, uni.redshift == MDPL2_UNIVERSE.redshift
    (250.0, True)
    >>> round(float(uni.mean_richness(1e15)), 1)
    250.0
    >>> 'concentration_scatter_dex' in uni.describe()['name']
    True
    """

    # -- epoch and cosmology ----------------------------------------------------
    redshift: float = _param(
        MDPL2_UNIVERSE.redshift, "Redshift of the mock clusters (MDPL2 snapshot 120).",
        "Ho et al. 2019, ApJ 887, 25; Kodi Ramanah et al. 2020, MNRAS 499, 1985")
    cosmology: str = _param(
        MDPL2_UNIVERSE.cosmology,
        "astropy cosmology realization (H0, Om0, Ob0); Planck13 matches MDPL2.",
        "Planck Collaboration 2014, A&A 571, A16; Klypin et al. 2016, MNRAS 457, 4340")
    sigma8: float = _param(
        MDPL2_UNIVERSE.sigma8, "sigma_8 of the linear power spectrum (colossus).",
        "Planck Collaboration 2014, A&A 571, A16")
    ns: float = _param(
        MDPL2_UNIVERSE.ns, "Spectral index n_s of the linear power spectrum.",
        "Planck Collaboration 2014, A&A 571, A16")
    # -- hosts ------------------------------------------------------------------
    log_mass_min: float = _param(
        13.5, "Lowest host log10[M200c / (h^-1 Msun)].", "Ho et al. 2019", "dex")
    log_mass_max: float = _param(
        15.3, "Highest host log10[M200c / (h^-1 Msun)] (upper end of the flat training set).",
        "Ho et al. 2019; Kodi Ramanah et al. 2020 (Fig. 2)", "dex")
    mass_function: str = _param(
        MDPL2_UNIVERSE.mass_function, "Halo mass function model (colossus name), M200c.",
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

    @classmethod
    def parse_overrides(cls, items):
        """Parameter overrides from ``NAME=VALUE`` strings (``clustermass mock --set``).

        VALUE is read as JSON where it can be (numbers, lists, ``true``) and
        kept as a string otherwise.

        Parameters
        ----------
        items : iterable of str or None

        Returns
        -------
        overrides : dict
            To pass as ``**params`` to `~clustermass.mocks.generate` or to the
            constructor.

        Raises
        ------
        clustermass.exceptions.InvalidInputError
            For an item without ``=`` or an unknown parameter name.

        Examples
        --------
        >>> from clustermass.mocks import SyntheticUniverse
        >>> SyntheticUniverse.parse_overrides(["richness_15=250", "frame=comoving"])
        {'richness_15': 250, 'frame': 'comoving'}
        """
        return parse_overrides(items, known=cls.parameter_names(), what="mock parameter",
                               hint="see clustermass.mocks.SyntheticUniverse().describe()")

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


# ---------------------------------------------------------------------------------------
# Precomputed tables
# ---------------------------------------------------------------------------------------
class _UniverseTables:
    """Everything that depends on the parameters but not on a host: computed once.

    Picklable (plain numpy arrays and floats), so worker processes get a copy.
    """

    def __init__(self, uni):
        self.universe = uni
        z = uni.redshift
        astro = resolve_cosmology(uni.cosmology)
        self.h = float(astro.h)
        self.efunc = float(astro.efunc(z))
        self.hubble = 100.0 * self.efunc  # km/s per physical h^-1 Mpc
        self.rho_crit = RHO_CRIT_100 * self.efunc**2  # h^2 Msun / Mpc^3 (physical)
        self.a3 = (1.0 + z) ** 3  # comoving -> physical number densities
        self.cosmology_name = getattr(astro, "name", None) or repr(astro)
        self.dist_z, self.dist_chi, self.chi_cluster = distance_table(z, astro)

        from colossus.halo import concentration as cconc
        from colossus.lss import bias as cbias
        from colossus.lss import mass_function as cmf

        cc = colossus_cosmology(astro, sigma8=uni.sigma8, ns=uni.ns)
        with using_colossus_cosmology(cc):
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

