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

* **Nuisance parameters**: five properties of a cluster that real data leave
  uncertain are drawn per cluster from priors ``<name>_range`` (see
  `NUISANCE_PARAMETERS`): the depth of the survey (``richness_factor``), the
  amplitude of the interlopers (``interloper_factor``), the mean velocity bias
  (``velocity_bias``), the orbital anisotropy beta_inf of beta(r) = beta_inf r /
  (r + r_a) (Tiret et al. 2007, A&A 476, L1; ``anisotropy``) and the redshift
  (``redshift``). By default every prior is degenerate at the value above, so
  the default universe is the one the shipped flows were trained in (and draws
  no extra random numbers); ``SyntheticUniverse.robust()`` (``clustermass mock
  --set nuisance_priors=robust``) has wide priors, with their sources in the
  field descriptions.

Every free number is a field of `SyntheticUniverse`, with its source.
Internal units: lengths in *physical* h^-1 Mpc relative to the host centre,
velocities in km/s, masses in h^-1 Msun.

This module holds the parameters; the tables computed from them once per
universe (mass function, concentrations, bias, correlation function, Jeans
solution) are in `clustermass.mocks.tables`, the profiles in
`clustermass.mocks.profiles`, the hosts and their lines of sight in
`clustermass.mocks.hosts`. The profile functions are also importable from
here, where they used to live.
"""

import dataclasses
import json
import math
from dataclasses import dataclass, field

import numpy as np

from .._parsing import parse_overrides
from ..exceptions import InvalidInputError
from ..priors import MDPL2_UNIVERSE
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
from .tables import G_GRAV, RHO_CRIT_100, UniverseTables

__all__ = ["SyntheticUniverse", "NUISANCE_PARAMETERS", "NUISANCE_PRESETS", "G_GRAV",
           "RHO_CRIT_100"]


#: The nuisance parameters, in the order in which they are drawn for each cluster:
#: name -> (catalogue column, shape of the prior). Each has a prior range ``<name>_range``.
NUISANCE_PARAMETERS = {
    "richness_factor": ("richness_factor", "log-uniform"),
    "interloper_factor": ("interloper_factor", "log-uniform"),
    "velocity_bias": ("velocity_bias_mean", "uniform"),
    "anisotropy": ("anisotropy", "uniform"),
    "redshift": ("redshift", "uniform"),
}
#: Named sets of nuisance priors (``clustermass mock --set nuisance_priors=NAME``):
#: ``default`` fixes every nuisance at the value of the universe the shipped flows were
#: trained in; ``robust`` spans the ranges discussed in ``docs/user_guide/mocks.rst``.
NUISANCE_PRESETS = {
    "default": {"richness_factor_range": (1.0, 1.0), "interloper_factor_range": (1.0, 1.0),
                "velocity_bias_range": None, "anisotropy_range": (0.5, 0.5),
                "redshift_range": None},
    # Wider than the values the stress suite fixes (x0.5, x2, beta_inf 0.8): a flow
    # marginalising over a nuisance shrinks its value towards the prior's centre, so a
    # survey at the very edge of the training prior is read with a bias.
    "robust": {"richness_factor_range": (0.125, 8.0), "interloper_factor_range": (1 / 3, 3.0),
               "velocity_bias_range": (0.9, 1.1), "anisotropy_range": (0.0, 0.9),
               "redshift_range": (0.01, 0.3)},
}
_DEFAULT = NUISANCE_PRESETS["default"]
#: Nuisances whose range may be None: then fixed at the universe's scalar parameter.
_SCALAR_NUISANCES = ("velocity_bias", "redshift")


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
    # -- nuisance parameters: per-cluster priors ------------------------------------
    richness_factor_range: tuple = _param(
        _DEFAULT["richness_factor_range"],
        "Prior [lo, hi] of a per-cluster factor on the mean number of galaxies at fixed mass"
        " (members, infall zone, neighbours and field alike: the depth of the survey),"
        " drawn log-uniformly; [v, v] fixes it. Robust preset [1/8, 8]: N ∝ M_min**-0.91,"
        " so a factor 4 in N is a factor ~4.6 in the limiting (sub)halo mass; spectroscopic"
        " surveys of massive clusters range from SDSS depth (tens of members, CIRS) to"
        " ~200 members (HeCS) and beyond (Coma, ~700 redshifts in the window); the prior"
        " reaches a factor 4 past the x0.5 and x2 of the stress suite.",
        "Jiang & van den Bosch 2016, MNRAS 458, 2848; Rines & Diaferio 2006, AJ 132, 1275;"
        " Rines et al. 2013, ApJ 767, 15")
    interloper_factor_range: tuple = _param(
        _DEFAULT["interloper_factor_range"],
        "Prior [lo, hi] of a per-cluster factor on the density of the line-of-sight"
        " environment (field galaxies and neighbouring groups), drawn log-uniformly; [v, v]"
        " fixes it. Robust preset [1/3, 3]: the clustering bias of field galaxies changes"
        " by about a factor 2 with their luminosity, and the interloper fraction of"
        " simulated clusters scatters from cluster to cluster by similar factors; the"
        " prior reaches past the x2 of the stress suite.",
        "Zehavi et al. 2011, ApJ 736, 59; Mamon, Biviano & Murante 2010, A&A 520, A30;"
        " Saro et al. 2013, ApJ 772, 47")
    velocity_bias_range: tuple = _param(
        _DEFAULT["velocity_bias_range"],
        "Prior [lo, hi] of the mean velocity bias of a cluster's galaxies, drawn uniformly;"
        " velocity_bias_scatter acts on top. null: fixed at velocity_bias; otherwise"
        " velocity_bias is set to the range's centre. Robust preset [0.9, 1.1]: satellite"
        " velocity bias measured from galaxy clustering (0.86 +0.08/-0.03 for BOSS"
        " CMASS) and its spread between simulations and galaxy selections.",
        "Guo et al. 2015, MNRAS 446, 578; Munari et al. 2013, MNRAS 430, 2638;"
        " Anbajagane et al. 2022, MNRAS 510, 2980")
    anisotropy_range: tuple = _param(
        _DEFAULT["anisotropy_range"],
        "Prior [lo, hi] of beta_inf, the outer velocity anisotropy of the galaxies in"
        " beta(r) = beta_inf r / (r + r_a) (0: isotropic orbits; 0.5: Mamon & Lokas 2005;"
        " -> 1: radial), drawn uniformly; [v, v] fixes it. Robust preset [0, 0.9]: from"
        " the isotropic orbits of early-type cluster galaxies to more radial than the"
        " beta ~ 0.5 at large radii of simulated haloes and of MACS J1206 (past the 0.8"
        " of the stress suite).",
        "Tiret et al. 2007, A&A 476, L1; Mamon & Lokas 2005, MNRAS 363, 705; Biviano &"
        " Katgert 2004, A&A 424, 779; Biviano et al. 2013, A&A 558, A1")
    redshift_range: tuple = _param(
        _DEFAULT["redshift_range"],
        "Prior [lo, hi] of the redshift of each cluster, drawn uniformly; r200c, v200c,"
        " concentrations, bias, the mass function and the distances follow it. null: every"
        " cluster at redshift; otherwise redshift is set to the range's centre (the"
        " catalogue's nominal redshift). Robust preset [0.01, 0.3]: the redshifts of the"
        " spectroscopic cluster surveys the flows are applied to (SDSS, HeCS).",
        "Rines & Diaferio 2006, AJ 132, 1275; Rines et al. 2013, ApJ 767, 15")
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

        self._check_nuisance_ranges(check)
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

    def _check_nuisance_ranges(self, check):
        """Make every ``<name>_range`` a (lo, hi) tuple of floats and check it."""
        limits = {"richness_factor": (0.0, np.inf, "positive"),
                  "interloper_factor": (0.0, np.inf, "positive"),
                  "velocity_bias": (0.0, np.inf, "positive"),
                  "anisotropy": (-1.0, 1.0, "in [-1, 1]"),
                  "redshift": (0.0, 2.0, "in (0, 2)")}
        for name in NUISANCE_PARAMETERS:
            key = f"{name}_range"
            value = getattr(self, key)
            if value is None and name in _SCALAR_NUISANCES:
                continue
            try:
                lo, hi = (float(x) for x in value)
            except (TypeError, ValueError):
                raise InvalidInputError(f"{key} must be a pair [lo, hi], got {value!r}") from None
            check(np.isfinite(lo) and np.isfinite(hi) and lo <= hi,
                  f"{key} must be a pair [lo, hi] of finite numbers with lo <= hi, got"
                  f" {value!r}")
            low, high, what = limits[name]
            closed = name == "anisotropy"
            ok = (low <= lo and hi <= high) if closed else (low < lo and hi < high)
            check(ok, f"{key} must lie {what}, got {value!r}")
            object.__setattr__(self, key, (lo, hi))
            if name in _SCALAR_NUISANCES:  # the scalar is the range's centre
                object.__setattr__(self, name, 0.5 * (lo + hi))

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

        ``nuisance_priors=NAME`` sets the nuisance priors of a named preset
        (`NUISANCE_PRESETS`); explicit ranges override it, in any order:

        >>> o = SyntheticUniverse.parse_overrides(["redshift_range=[0.1, 0.1]",
        ...                                        "nuisance_priors=robust"])
        >>> o["redshift_range"], o["richness_factor_range"]
        ([0.1, 0.1], (0.125, 8.0))
        """
        out = parse_overrides(items, known=[*cls.parameter_names(), "nuisance_priors"],
                              what="mock parameter",
                              hint="see clustermass.mocks.SyntheticUniverse().describe()")
        preset = out.pop("nuisance_priors", None)
        if preset is None:
            return out
        if preset not in NUISANCE_PRESETS:
            raise InvalidInputError(f"nuisance_priors must be one of {tuple(NUISANCE_PRESETS)},"
                                    f" got {preset!r}")
        return {**NUISANCE_PRESETS[preset], **out}

    def to_dict(self):
        """The parameters as a JSON-serialisable dict (ranges as lists, as JSON reads them)."""
        return {f.name: list(v) if isinstance(v := getattr(self, f.name), tuple) else v
                for f in dataclasses.fields(self)}

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

    # -- nuisance parameters ------------------------------------------------------
    @classmethod
    def robust(cls, **overrides):
        """The universe with the wide nuisance priors of ``NUISANCE_PRESETS['robust']``.

        For training flows that should not depend on survey depth, interlopers,
        velocity bias, orbits or redshift. Keyword arguments override any
        parameter, the ranges included.

        Examples
        --------
        >>> from clustermass.mocks import SyntheticUniverse
        >>> uni = SyntheticUniverse.robust(redshift_range=[0.05, 0.1])
        >>> uni.richness_factor_range, uni.redshift_range, round(uni.redshift, 3)
        ((0.125, 8.0), (0.05, 0.1), 0.075)
        """
        return cls(**{**NUISANCE_PRESETS["robust"], **overrides})

    def nuisance_ranges(self):
        """The prior range (lo, hi) of every nuisance parameter, None resolved.

        Examples
        --------
        >>> from clustermass.mocks import SyntheticUniverse
        >>> r = SyntheticUniverse().nuisance_ranges()
        >>> r['richness_factor'], r['velocity_bias'], r['anisotropy']
        ((1.0, 1.0), (1.0, 1.0), (0.5, 0.5))
        """
        out = {}
        for name in NUISANCE_PARAMETERS:
            rng = getattr(self, f"{name}_range")
            out[name] = (getattr(self, name),) * 2 if rng is None else tuple(rng)
        return out

    def nuisance_nominal(self):
        """The nominal value of every nuisance: fixed value, or the centre of its prior.

        The centre is geometric for log-uniform priors; ``velocity_bias`` and
        ``redshift`` are the scalar parameters of those names.
        """
        out = {}
        for name, (lo, hi) in self.nuisance_ranges().items():
            if name in _SCALAR_NUISANCES:
                out[name] = float(getattr(self, name))
            elif lo == hi:
                out[name] = lo
            elif NUISANCE_PARAMETERS[name][1] == "log-uniform":
                out[name] = math.sqrt(lo * hi)
            else:
                out[name] = 0.5 * (lo + hi)
        return out

    def nuisance_is_default(self):
        """Whether every nuisance prior is the default (today's fixed values)."""
        return all(getattr(self, key) == value for key, value in _DEFAULT.items())

    def draw_nuisance(self, rng):
        """Nuisance parameters of one cluster, drawn from their priors.

        A degenerate prior [v, v] takes no random number, so a universe whose
        priors are all degenerate leaves the random stream untouched.

        Parameters
        ----------
        rng : `numpy.random.Generator`

        Returns
        -------
        values : dict
            name -> value, in the order of `NUISANCE_PARAMETERS`.

        Examples
        --------
        >>> import numpy as np
        >>> from clustermass.mocks import SyntheticUniverse
        >>> rng = np.random.default_rng(1)
        >>> uni = SyntheticUniverse(richness_factor_range=[0.5, 0.5])
        >>> uni.draw_nuisance(rng)['richness_factor']
        0.5
        >>> z = SyntheticUniverse.robust().draw_nuisance(rng)['redshift']
        >>> 0.01 <= z <= 0.3
        True
        """
        values = {}
        for name, (lo, hi) in self.nuisance_ranges().items():
            if lo == hi:
                values[name] = lo
                continue
            u = float(rng.random())
            if NUISANCE_PARAMETERS[name][1] == "log-uniform":
                values[name] = math.exp(math.log(lo) + u * math.log(hi / lo))
            else:
                values[name] = lo + u * (hi - lo)
        return values

    # -- derived relations --------------------------------------------------------
    def mean_richness(self, m200c):
        """Mean number of satellites inside r200c (M_acc above ``galaxy_min_mass``)."""
        return richness(m200c, self.richness_15, self.richness_slope)

    def tables(self):
        """Precomputed tables (mass function, c(M), bias, xi, Jeans); cached."""
        key = self
        tab = _TABLE_CACHE.get(key)
        if tab is None:
            tab = UniverseTables(self)
            if len(_TABLE_CACHE) > 8:
                _TABLE_CACHE.clear()
            _TABLE_CACHE[key] = tab
        return tab


_TABLE_CACHE = {}
