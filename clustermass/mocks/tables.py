"""Tables of the synthetic universe: everything that depends on its parameters but
not on one host, computed once (`UniverseTables`), and the per-cluster views that
the nuisance parameters need (`UniverseTables.for_cluster`).

At one redshift the tables hold the mass function, median concentrations and
halo bias (``colossus``, Diemer 2018, ApJS 239, 35), the linear correlation
function, the densities and clustering of the galaxy populations, the host-mass
distributions of the two splits, the distances around the cluster, the Jeans
solution of `clustermass.mocks.profiles.nfw_jeans_table` and the unevolved
subhalo mass function. The physics and its sources are described in
`clustermass.mocks.universe`.

Per-cluster nuisance parameters (``SyntheticUniverse.nuisance_ranges``) change
some of them. A cluster's redshift changes everything that depends on z:
E(z), rho_crit(z) and hence r200c and v200c, the distances, and the colossus
quantities, which are tabulated on a grid of `REDSHIFT_STEP` across the
redshift prior and interpolated linearly in z (the logarithm of the mass
function); the populations and host-mass distributions are then recomputed
exactly from them. A cluster's anisotropy selects a Jeans table, interpolated
between tables `ANISOTROPY_STEP` apart. When a prior is degenerate nothing is
tabulated or interpolated: the tables are those of the nominal universe.
"""

import copy
import warnings

import numpy as np
from astropy import constants as const
from astropy import units as u

from .._colossus import colossus_cosmology, using_colossus_cosmology
from ..exceptions import InvalidInputError
from ..phasespace import resolve_cosmology
from .geometry import distance_table
from .profiles import nfw_jeans_table

__all__ = ["UniverseTables", "G_GRAV", "RHO_CRIT_100", "REDSHIFT_STEP", "ANISOTROPY_STEP"]

#: Newton's constant in Mpc (km/s)^2 / Msun (so G M / r needs M in h^-1 Msun, r in h^-1 Mpc).
G_GRAV = const.G.to_value(u.Mpc * u.km**2 / u.s**2 / u.Msun)
#: Critical density today for H0 = 100 h km/s/Mpc, in h^2 Msun / Mpc^3.
RHO_CRIT_100 = 3.0 * 100.0**2 / (8.0 * np.pi * G_GRAV)
#: Largest spacing of the redshift grid of the colossus tables (per-cluster redshifts).
REDSHIFT_STEP = 0.005
#: Largest spacing of the grid of Jeans tables in beta_inf (per-cluster anisotropies).
ANISOTROPY_STEP = 0.05


def _grid(lo, hi, step):
    """Evenly spaced grid from lo to hi with spacing at most ``step`` (None if lo == hi)."""
    if lo == hi:
        return None
    return np.linspace(lo, hi, int(np.ceil((hi - lo) / step - 1e-9)) + 1)


def _bracket(grid, value, what):
    """Index i and weight w with value = (1 - w) grid[i] + w grid[i + 1]."""
    if grid is None or not grid[0] - 1e-12 <= value <= grid[-1] + 1e-12:
        raise InvalidInputError(f"{what} {value} lies outside the range the universe"
                                " tabulated; set it through the universe's prior")
    i = int(np.clip(np.searchsorted(grid, value) - 1, 0, grid.size - 2))
    w = float(np.clip((value - grid[i]) / (grid[i + 1] - grid[i]), 0.0, 1.0))
    return i, w


_COLOSSUS = {}


def _colossus(astro, sigma8, ns):
    """The colossus cosmology of these parameters, made once per process.

    Making one costs ~2 s (its correlation-function table); its results do not
    depend on what it computed before, so universes that share the cosmology
    (stress sets with different nuisance values) share it.
    """
    key = (repr(astro), float(sigma8), float(ns))
    cc = _COLOSSUS.get(key)
    if cc is None:
        if len(_COLOSSUS) > 4:
            _COLOSSUS.clear()
        cc = _COLOSSUS[key] = colossus_cosmology(astro, sigma8=sigma8, ns=ns)
    return cc


def _colossus_arrays(uni, m, z, cc):
    """Mass function dn/dln M (comoving), c200c, bias and xi_lin at redshift z."""
    from colossus.halo import concentration as cconc
    from colossus.lss import bias as cbias
    from colossus.lss import mass_function as cmf

    with warnings.catch_warnings():
        # colossus warns when a model is used outside its calibration range.
        warnings.simplefilter("ignore", UserWarning)
        dndlnm = cmf.massFunction(m, z, mdef="200c", model=uni.mass_function, q_out="dndlnM")
        cmed = cconc.concentration(m, "200c", z, model=uni.concentration_model,
                                   range_warning=False)
        bias = cbias.haloBias(m, z, "200c", model=uni.bias_model)
        xi = cc.correlationFunction(UniverseTables.R_XI, z)
    return (np.asarray(dndlnm, float), np.asarray(cmed, float), np.asarray(bias, float),
            np.asarray(xi, float))


class UniverseTables:
    """Everything that depends on the parameters but not on a host: computed once.

    Made by `SyntheticUniverse.tables <clustermass.mocks.SyntheticUniverse.tables>`.
    Picklable (numpy arrays, floats and an astropy cosmology), so worker
    processes get a copy. The attributes ``richness_factor``,
    ``interloper_factor``, ``velocity_bias_mean``, ``anisotropy`` and
    ``redshift`` are the nuisance parameters these tables are for: the
    universe's nominal values here, a cluster's in `for_cluster`.
    """

    #: Comoving separations (h^-1 Mpc) of the tabulated correlation function.
    R_XI = np.logspace(np.log10(0.02), np.log10(300.0), 160)

    def __init__(self, uni):
        self.universe = uni
        nominal = uni.nuisance_nominal()
        ranges = uni.nuisance_ranges()
        self.richness_factor = nominal["richness_factor"]
        self.interloper_factor = nominal["interloper_factor"]
        self.velocity_bias_mean = nominal["velocity_bias"]
        self.anisotropy = nominal["anisotropy"]
        z = uni.redshift
        astro = resolve_cosmology(uni.cosmology)
        self.astro = astro
        self.h = float(astro.h)
        self.cosmology_name = getattr(astro, "name", None) or repr(astro)

        cc = _colossus(astro, uni.sigma8, uni.ns)
        lm = np.linspace(np.log10(uni.galaxy_min_mass) - 0.5, 16.0, 701)
        self.lm = lm
        self.ln_r_xi = np.log(self.R_XI)  # comoving h^-1 Mpc
        self.grid_z = _grid(*ranges["redshift"], REDSHIFT_STEP)
        with using_colossus_cosmology(cc):
            arrays = _colossus_arrays(uni, 10**lm, z, cc)
            if self.grid_z is not None:
                grid = [_colossus_arrays(uni, 10**lm, zz, cc) for zz in self.grid_z]
                self.grid_ln_dndlnm = np.log(np.maximum([g[0] for g in grid], 1e-300))
                self.grid_cmed = np.array([g[1] for g in grid])
                self.grid_bias = np.array([g[2] for g in grid])
                self.grid_xi = np.array([g[3] for g in grid])
        self._set_epoch(z, *arrays)

        # -- Jeans tables ------------------------------------------------------------------
        self.ln_c = np.linspace(np.log(1.0), np.log(40.0), 64)
        self.ln_x = np.linspace(np.log(1e-3), np.log(2e3), 281)
        self.ln_jeans = self._jeans(self.anisotropy)
        self.grid_beta = _grid(*ranges["anisotropy"], ANISOTROPY_STEP)
        if self.grid_beta is not None:
            self.grid_ln_jeans = np.array([self._jeans(b) for b in self.grid_beta])

        # -- subhalo (accreted group) mass function -----------------------------------------
        lmu = np.linspace(np.log(uni.subgroup_min_ratio), 0.0, 400)
        mu = np.exp(lmu)
        dn = uni.shmf_gamma * mu**uni.shmf_alpha * np.exp(-uni.shmf_beta * mu**uni.shmf_omega)
        cdf = np.concatenate([[0.0], np.cumsum(0.5 * (dn[1:] + dn[:-1]) * np.diff(lmu))])
        self.sub_lnmu = lmu
        self.sub_number = float(cdf[-1])
        self.sub_cdf = cdf / cdf[-1]

    def _jeans(self, beta_inf):
        uni = self.universe
        table = nfw_jeans_table(np.exp(self.ln_c), np.exp(self.ln_x),
                                tracer_ratio=uni.galaxy_concentration_ratio,
                                anisotropy_radius=uni.anisotropy_radius, beta_inf=beta_inf)
        return np.log(table)

    def _set_epoch(self, z, dndlnm, cmed, bias, xi):
        """Set everything that depends on the redshift from the colossus arrays at z."""
        uni = self.universe
        astro = self.astro
        self.redshift = float(z)
        self.efunc = float(astro.efunc(z))
        self.hubble = 100.0 * self.efunc  # km/s per physical h^-1 Mpc
        self.rho_crit = RHO_CRIT_100 * self.efunc**2  # h^2 Msun / Mpc^3 (physical)
        self.a3 = (1.0 + z) ** 3  # comoving -> physical number densities
        self.dist_z, self.dist_chi, self.chi_cluster = distance_table(z, astro)
        self.dndlnm = dndlnm  # comoving (h/Mpc)^3
        self.cmed = cmed
        self.bias = bias
        self.xi = xi
        lm = self.lm
        m = 10**lm

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

    # -- per-cluster views ----------------------------------------------------------------
    def for_cluster(self, nuisance):
        """The tables for one cluster's nuisance parameters.

        Parameters
        ----------
        nuisance : dict
            ``richness_factor``, ``interloper_factor``, ``velocity_bias``,
            ``anisotropy`` and ``redshift``, as drawn by
            `SyntheticUniverse.draw_nuisance
            <clustermass.mocks.SyntheticUniverse.draw_nuisance>`.

        Returns
        -------
        tables : `UniverseTables`
            ``self`` if the values are the nominal ones, else a shallow copy
            with the redshift-dependent tables and the Jeans table of the
            cluster.
        """
        z = float(nuisance["redshift"])
        beta = float(nuisance["anisotropy"])
        same = (nuisance["richness_factor"] == self.richness_factor
                and nuisance["interloper_factor"] == self.interloper_factor
                and nuisance["velocity_bias"] == self.velocity_bias_mean
                and beta == self.anisotropy and z == self.redshift)
        if same:
            return self
        t = copy.copy(self)
        t.richness_factor = float(nuisance["richness_factor"])
        t.interloper_factor = float(nuisance["interloper_factor"])
        t.velocity_bias_mean = float(nuisance["velocity_bias"])
        if z != self.redshift:
            i, w = _bracket(self.grid_z, z, "redshift")
            ln_dn = (1 - w) * self.grid_ln_dndlnm[i] + w * self.grid_ln_dndlnm[i + 1]
            t._set_epoch(z, np.exp(ln_dn),
                         (1 - w) * self.grid_cmed[i] + w * self.grid_cmed[i + 1],
                         (1 - w) * self.grid_bias[i] + w * self.grid_bias[i + 1],
                         (1 - w) * self.grid_xi[i] + w * self.grid_xi[i + 1])
        if beta != self.anisotropy:
            i, w = _bracket(self.grid_beta, beta, "anisotropy")
            t.anisotropy = beta
            t.ln_jeans = (1 - w) * self.grid_ln_jeans[i] + w * self.grid_ln_jeans[i + 1]
        return t

    # -- interpolation helpers ------------------------------------------------------------
    def concentration(self, m):
        return np.interp(np.log10(m), self.lm, self.cmed)

    def halo_bias(self, m):
        return np.interp(np.log10(m), self.lm, self.bias)

    def xi_lin(self, r_phys):
        """Linear matter correlation function at physical separation r (h^-1 Mpc)."""
        r_com = np.asarray(r_phys, float) * (1.0 + self.redshift)
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
