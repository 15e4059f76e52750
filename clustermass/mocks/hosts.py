"""The host population of the synthetic universe: host haloes, their galaxies, and
what one line of sight through their environment contains.

Given the precomputed tables of a `~clustermass.mocks.SyntheticUniverse`
(``SyntheticUniverse.tables()``, called ``t`` below), `draw_host_mass` draws a
host mass for the ``train`` or ``test`` split, `realise_host` its members,
substructure and infall zone (3D, physical h^-1 Mpc relative to the host
centre), and `observe_host` projects it along a line of sight, adds the smooth
field and the neighbouring groups, and applies the cylinder cut of Ho et al.
(2019) with the relativistic velocities of `clustermass.mocks.geometry`. The
physics and its sources are described in `clustermass.mocks.universe`.

A cluster's nuisance parameters come in through its tables
(``t = SyntheticUniverse.tables().for_cluster(values)``): ``t.redshift`` and the
redshift-dependent tables, ``t.anisotropy`` (beta_inf of the Jeans table and of
the velocity ellipsoid), ``t.velocity_bias_mean`` (times the host's log-normal
scatter), ``t.richness_factor`` (every galaxy count at fixed mass: members,
infall zone, subgroups, neighbours, field) and ``t.interloper_factor`` (the
number of field galaxies and of neighbouring groups in the line of sight).
"""

import math

import numpy as np

from .geometry import random_rotation, relative_velocity, unit_vectors
from .profiles import mamon_lokas_beta, mean_radial_velocity, nfw_inverse_cdf, nfw_mu

__all__ = [
    "Host",
    "draw_host_mass",
    "n_lines_of_sight",
    "realise_host",
    "observe_host",
    "ORIGIN_CENTRAL",
    "ORIGIN_SATELLITE",
    "ORIGIN_SUBGROUP",
    "ORIGIN_INFALL",
    "ORIGIN_NEIGHBOUR",
    "ORIGIN_FIELD",
    "ORIGIN_NAMES",
]

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


# ---------------------------------------------------------------------------------------
# Random building blocks
# ---------------------------------------------------------------------------------------
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
    beta = mamon_lokas_beta(x, t.universe.anisotropy_radius / np.asarray(c), t.anisotropy)
    sr = np.sqrt(s2)
    st = np.sqrt((1.0 - beta) * s2)
    g = rng.normal(size=unit_dirs.shape)
    gr = np.sum(g * unit_dirs, axis=1)
    return (sr * gr)[:, None] * unit_dirs + st[:, None] * (g - gr[:, None] * unit_dirs)


def _los_dispersion(t, c, x, v200, cos_theta):
    """Line-of-sight random velocity of non-virialised galaxies (Jeans + field, quadrature)."""
    uni = t.universe
    s2 = t.jeans_sigma2(c, x) * v200**2 * uni.outer_dispersion_factor**2
    beta = mamon_lokas_beta(x, uni.anisotropy_radius / c, t.anisotropy)
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
    h.b_v = t.velocity_bias_mean * math.exp(uni.velocity_bias_scatter * rng.normal())
    h.lam = float(uni.mean_richness(h.m) * t.richness_factor
                  * _lognormal_mean_one(rng, uni.richness_scatter))
    h.bias = float(t.halo_bias(h.m))
    s = float(np.clip(rng.normal(uni.minor_axis_mean, uni.minor_axis_sd), 0.3, 1.0))
    q = float(rng.uniform(s, 1.0))
    h.axes = np.array([1.0, q, s]) / (q * s) ** (1 / 3)
    h.rotation = random_rotation(rng)

    # Radial distribution of the host's own galaxies: NFW inside r200c, the part of the
    # NFW tail above the two-halo term outside (Hayashi & White 2008).
    cg = h.c_gal
    xg = np.logspace(0.0, 1.0, 129)
    n_nfw = (h.lam / (4 * np.pi * h.r200**3) * cg**3 / nfw_mu(cg)
             / (cg * xg * (1 + cg * xg) ** 2))
    n_field = (t.n_gal_total * t.richness_factor * t.a3
               * (1.0 + t.b_gal_total * h.bias * np.maximum(t.xi_lin(xg * h.r200), 0.0)))
    dn = 4 * np.pi * h.r200**3 * xg**3 * np.maximum(n_nfw - n_field, 0.0)  # dN / d ln x
    cum_out = np.concatenate([[0.0], np.cumsum(0.5 * (dn[1:] + dn[:-1]) * np.diff(np.log(xg)))])
    n_exp = h.lam + float(cum_out[-1])
    n_own = int(rng.poisson(n_exp))
    draw = rng.random(n_own) * n_exp
    inner = draw < h.lam
    xs = np.empty(n_own)
    xs[inner] = nfw_inverse_cdf(draw[inner] / h.lam, cg)
    xs[~inner] = np.interp(draw[~inner] - h.lam, cum_out, xg)

    dirs = unit_vectors(rng, n_own)
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
        n_k = 1 + int(rng.poisson(uni.mean_richness(msub) * t.richness_factor
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
        xsub = nfw_inverse_cdf(rng.random(rest.size), uni.galaxy_concentration_ratio * csub)
        d = unit_vectors(rng, rest.size)
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
    uni = t.universe
    zc = t.redshift
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
        n = int(rng_env.poisson(cdf[-1] * t.richness_factor * t.interloper_factor))
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
    near = t.chi_cluster + dchi <= t.dist_chi[0]
    if np.any(near):  # at low redshift the cylinder can reach past the observer
        far = ~near
        R, ell, vlos, member, origin, dchi = (a[far] for a in (R, ell, vlos, member, origin,
                                                                dchi))
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
    n1 = int(rng.poisson(n_uniform * t.interloper_factor))
    n2 = int(rng.poisson(cdf[-1] * t.interloper_factor))
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
    nsat = rng.poisson(uni.mean_richness(mc) * t.richness_factor
                       * _lognormal_mean_one(rng, uni.richness_scatter, ng))
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
    xg = nfw_inverse_cdf(rng.random(total), cgal[gi])
    xg[first] = 0.0
    d = unit_vectors(rng, total)
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
