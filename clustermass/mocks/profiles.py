"""Radial profiles and velocities of cluster haloes: NFW, the Jeans equation, infall,
richness and the interloper density of Mamon, Biviano & Murante (2010).

Pure functions of their arguments (no random numbers, no cosmology), used by the
synthetic universe (`clustermass.mocks.universe`, `clustermass.mocks.hosts`) and
by the validation fits (`clustermass.mocks.fits`). Units: G = 1 in the Jeans
equation; radii in units of r200c where the name says ``x``.
"""

import numpy as np

from ..exceptions import InvalidInputError

__all__ = [
    "richness",
    "nfw_mu",
    "nfw_enclosed_fraction",
    "nfw_inverse_cdf",
    "mamon_lokas_beta",
    "jeans_sigma_r2",
    "nfw_jeans_table",
    "mean_radial_velocity",
    "mbm10_amplitude",
    "mbm10_width",
    "MBM10_BACKGROUND",
    "mbm10_interloper_density",
    "mbm10_interloper_number",
]

#: Constant background B of the interloper density of Mamon, Biviano & Murante (2010).
MBM10_BACKGROUND = 0.0075


def richness(m200c, n15, slope):
    """Richness-mass relation ``N200 = n15 (M200c / 1e15 h^-1 Msun)**slope``.

    Examples
    --------
    >>> from clustermass.mocks.profiles import richness
    >>> float(richness(1e14, 200.0, 1.0))
    20.0
    """
    return n15 * (np.asarray(m200c, dtype=float) / 1e15) ** slope



# ---------------------------------------------------------------------------------------
# Profiles and the Jeans equation
# ---------------------------------------------------------------------------------------
def nfw_mu(y):
    """NFW mass profile m(y) = ln(1 + y) - y / (1 + y), with M(<r) ∝ m(r / r_s)."""
    y = np.asarray(y, dtype=float)
    return np.log1p(y) - y / (1.0 + y)


def nfw_enclosed_fraction(x, c):
    """Fraction M(<x r200) / M200 of an NFW halo of concentration ``c``.

    Examples
    --------
    >>> from clustermass.mocks.profiles import nfw_enclosed_fraction
    >>> float(nfw_enclosed_fraction(1.0, 4.0))
    1.0
    """
    return nfw_mu(np.asarray(c) * np.asarray(x)) / nfw_mu(c)


def nfw_inverse_cdf(p, c):
    """Radius x = r / r200 enclosing the fraction ``p`` of the mass inside r200 (NFW).

    Uses the closed form with the Lambert W function (e.g. Robotham & Howlett
    2018, Research Notes of the AAS): c x = -1 - 1 / W0(-exp(-1 - p m(c))).
    """
    from scipy.special import lambertw

    p = np.asarray(p, dtype=float)
    c = np.asarray(c, dtype=float)
    arg = -np.exp(-1.0 - p * nfw_mu(c))
    w = lambertw(arg, 0).real
    return (-1.0 - 1.0 / w) / c


def mamon_lokas_beta(r, r_a, beta_inf=0.5):
    """Velocity anisotropy beta(r) = beta_inf r / (r + r_a).

    With ``beta_inf = 1/2`` (the default) this is the profile of Mamon & Lokas
    (2005, MNRAS 363, 705, eq. 60); other values give the generalisation of
    Tiret et al. (2007, A&A 476, L1) with isotropic centres, beta(0) = 0,
    running from isotropic orbits everywhere (``beta_inf = 0``) to radial
    ones at large radii (``beta_inf -> 1``).

    Examples
    --------
    >>> from clustermass.mocks.profiles import mamon_lokas_beta
    >>> float(mamon_lokas_beta(1.0, 1.0))
    0.25
    >>> float(mamon_lokas_beta(1.0, 1.0, beta_inf=0.0))
    0.0
    """
    r = np.asarray(r, dtype=float)
    return beta_inf * r / (r + r_a)


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
    >>> from clustermass.mocks.profiles import jeans_sigma_r2
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
                    beta_inf=0.5, x_inf=1e4, n_fine=6000):
    """sigma_r^2 / v200^2 of tracers in an NFW halo, on a grid of c and x = r / r200.

    The mass follows NFW with concentration c; the tracers follow NFW with
    concentration ``tracer_ratio * c``; the anisotropy is `mamon_lokas_beta`
    with r_a = ``anisotropy_radius`` r_s and ``beta_inf`` (Mamon & Lokas 2005
    for the default 1/2). In units of r200 and v200 the Jeans solution depends
    on (c, x) only, so one table serves all hosts of one anisotropy.

    Returns
    -------
    table : `~numpy.ndarray`
        Shape ``(len(c_grid), len(x_grid))``.

    Examples
    --------
    >>> import numpy as np
    >>> from clustermass.mocks.profiles import nfw_jeans_table
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
        beta = mamon_lokas_beta(s, anisotropy_radius / c, beta_inf)
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
    >>> from clustermass.mocks.profiles import mean_radial_velocity
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


def mbm10_amplitude(X):
    """Amplitude A(X) of the MBM10 interloper density, ``log10 A = -1.061 + 0.364 X^2
    - 0.580 X^4 + 0.533 X^6`` (Mamon, Biviano & Murante 2010, X = R / r200)."""
    X = np.asarray(X, dtype=float)
    X2 = X * X
    return 10.0 ** (-1.061 + 0.364 * X2 - 0.580 * X2**2 + 0.533 * X2**3)


def mbm10_width(X):
    """Gaussian width sigma_i(X) = 0.612 - 0.0653 X^2 (in v200) of the MBM10 interlopers."""
    X = np.asarray(X, dtype=float)
    return 0.612 - 0.0653 * (X * X)


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
    >>> from clustermass.mocks.profiles import mbm10_interloper_density
    >>> round(float(mbm10_interloper_density(0.0, 0.0)), 4)
    0.0944
    """
    X = np.asarray(X, dtype=float)
    u = np.asarray(u, dtype=float)
    s = mbm10_width(X)
    return mbm10_amplitude(X) * np.exp(-0.5 * (u / s) ** 2) + MBM10_BACKGROUND


def mbm10_interloper_number(x_max, u_max, n_x=400):
    """Interlopers per virial-sphere member inside ``X < x_max`` and ``|u| < u_max`` (MBM10 form).

    ``N_i / N_v = 2 pi int_0^x_max X [sqrt(pi/2) A sigma_i erf(u_max / (sqrt2 sigma_i))
    + u_max B] dX``, as in MAMPOSSt.

    Examples
    --------
    >>> from clustermass.mocks.profiles import mbm10_interloper_number
    >>> 0.1 < mbm10_interloper_number(1.0, 2.7 * 0.65) < 0.5
    True
    """
    from scipy.special import erf

    X = np.linspace(0.0, float(x_max), n_x)
    A = mbm10_amplitude(X)
    s = mbm10_width(X)
    integrand = X * (np.sqrt(np.pi / 2) * A * s * erf(u_max / (np.sqrt(2) * s))
                     + u_max * MBM10_BACKGROUND)
    return float(2 * np.pi * np.trapezoid(integrand, X))

