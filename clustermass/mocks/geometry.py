"""Geometry of the mocks: random directions and rotations, sight lines, and the
relativistic line-of-sight velocities of the Ho et al. (2019) observer.

Both the synthetic universe (`clustermass.mocks.hosts`) and the observer of
simulation boxes (`clustermass.mocks.observer`) use these helpers, so they live
here, below both in the import order.

Velocities follow Ho et al. (2019, ApJ 887, 25, section 2; ``mocks/make_mocks.py``
of McWilliamsCenter/halo_cnn), as an observer at the host's redshift sees them:

1. the host sits at the comoving distance chi(z_c);
2. a galaxy at comoving line-of-sight offset d has chi = chi(z_c) + d, hence
   a cosmological redshift z(chi) and a Hubble recession velocity
   ``v_H = c ((1 + z)^2 - 1) / ((1 + z)^2 + 1)``;
3. its peculiar velocity along the line of sight is added relativistically,
   ``v = (v_H + v_p) / (1 + v_H v_p / c^2)``, and likewise for the host;
4. the velocity relative to the host is the relativistic difference
   ``(v_gal - v_host) / (1 - v_gal v_host / c^2)``.
"""

import numpy as np
from astropy import units as u

from .._units import C_KMS
from ..exceptions import InvalidInputError
from ..phasespace import resolve_cosmology

__all__ = [
    "unit_vectors",
    "random_rotation",
    "fibonacci_sphere",
    "random_sight_lines",
    "hubble_velocity",
    "add_velocities",
    "subtract_velocities",
    "distance_table",
    "relative_velocity",
]


# ---------------------------------------------------------------------------------------
# Directions
# ---------------------------------------------------------------------------------------
def unit_vectors(rng, n):
    """``n`` isotropic random unit vectors, shape ``(n, 3)`` (normalised Gaussians)."""
    v = rng.normal(size=(n, 3))
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return v


def random_rotation(rng):
    """A uniformly random rotation matrix (from a random unit quaternion)."""
    q = rng.normal(size=4)
    q /= np.linalg.norm(q)
    w, x, y, z = q
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])


def fibonacci_sphere(n, rotation=None):
    """``n`` nearly uniformly spread unit vectors (Fibonacci lattice), optionally rotated.

    Ho et al. (2019) placed extra lines of sight of massive hosts this way.

    Examples
    --------
    >>> import numpy as np
    >>> from clustermass.mocks.geometry import fibonacci_sphere
    >>> v = fibonacci_sphere(10)
    >>> v.shape, bool(np.allclose(np.linalg.norm(v, axis=1), 1))
    ((10, 3), True)
    """
    n = int(n)
    if n < 1:
        raise InvalidInputError(f"need at least one line of sight, got {n}")
    i = np.arange(n) + 0.5
    zc = 1.0 - 2.0 * i / n
    phi = np.pi * (3.0 - np.sqrt(5.0)) * np.arange(n)
    s = np.sqrt(1.0 - zc * zc)
    v = np.column_stack([s * np.cos(phi), s * np.sin(phi), zc])
    if rotation is not None:
        v = v @ np.asarray(rotation).T
    return v


def random_sight_lines(rng, n):
    """``n`` lines of sight of one host, shape ``(n, 3)``.

    One isotropic random direction if ``n == 1``; otherwise a `fibonacci_sphere`
    of ``n`` directions with a `random_rotation`, as Ho et al. (2019) did for
    the extra lines of sight of rare hosts.
    """
    if n == 1:
        v = rng.normal(size=3)
        return (v / np.linalg.norm(v))[None]
    return fibonacci_sphere(n, random_rotation(rng))


# ---------------------------------------------------------------------------------------
# Velocities along the line of sight
# ---------------------------------------------------------------------------------------
def hubble_velocity(z):
    """Recession velocity of redshift z, ``c ((1+z)^2 - 1) / ((1+z)^2 + 1)`` (km/s).

    Examples
    --------
    >>> from clustermass.mocks.geometry import hubble_velocity
    >>> from clustermass.priors import MDPL2_UNIVERSE
    >>> round(float(hubble_velocity(MDPL2_UNIVERSE.redshift)), 1)
    33036.3
    """
    a = (1.0 + np.asarray(z, dtype=float)) ** 2
    return C_KMS * (a - 1.0) / (a + 1.0)


def add_velocities(v1, v2):
    """Relativistic sum of two collinear velocities (km/s).

    Examples
    --------
    >>> from clustermass.mocks.geometry import add_velocities
    >>> float(add_velocities(100.0, 0.0))
    100.0
    """
    v1 = np.asarray(v1, dtype=float)
    v2 = np.asarray(v2, dtype=float)
    return (v1 + v2) / (1.0 + v1 * v2 / C_KMS**2)


def subtract_velocities(v1, v2):
    """Relativistic difference ``v1 - v2`` of two collinear velocities (km/s)."""
    v1 = np.asarray(v1, dtype=float)
    v2 = np.asarray(v2, dtype=float)
    return (v1 - v2) / (1.0 - v1 * v2 / C_KMS**2)


def distance_table(redshift, cosmology=None, *, half_width=0.08, n=16001):
    """Comoving distance chi(z) (h^-1 Mpc) tabulated around ``redshift``.

    Returns
    -------
    z_grid, chi_grid : `~numpy.ndarray`
    chi_cluster : float
        chi(redshift).
    """
    cosmo = resolve_cosmology(cosmology)
    z = float(redshift)
    zz = np.linspace(max(z - half_width, 0.0), z + half_width, int(n))
    inv_e = 1.0 / cosmo.efunc(zz)
    chi = np.concatenate([[0.0], np.cumsum(0.5 * (inv_e[1:] + inv_e[:-1]) * np.diff(zz))])
    chi *= C_KMS / 100.0
    chi += float(cosmo.comoving_distance(zz[0]).to_value(u.Mpc) * cosmo.h)
    return zz, chi, float(np.interp(z, zz, chi))


def relative_velocity(dchi, v_pec, v_pec_host, z_grid, chi_grid, chi_cluster):
    """Line-of-sight velocity relative to the host (Ho et al. 2019), km/s.

    Parameters
    ----------
    dchi : array-like
        Comoving line-of-sight offset of the galaxies from the host (h^-1 Mpc),
        positive away from the observer.
    v_pec, v_pec_host : array-like
        Line-of-sight peculiar velocities of the galaxies and of the host.
    z_grid, chi_grid, chi_cluster
        From `distance_table`.

    Examples
    --------
    A galaxy at rest at the host's position moves with it:

    >>> from clustermass.mocks.geometry import distance_table, relative_velocity
    >>> from clustermass.priors import MDPL2_UNIVERSE
    >>> tab = distance_table(MDPL2_UNIVERSE.redshift)
    >>> float(relative_velocity(0.0, 0.0, 0.0, *tab))
    0.0
    >>> v = relative_velocity(10.0, 0.0, 0.0, *tab)  # 10 h^-1 Mpc behind: Hubble flow
    >>> 900 < float(v) < 1000
    True
    """
    chi = chi_cluster + np.asarray(dchi, dtype=float)
    if np.any(chi < chi_grid[0]) or np.any(chi > chi_grid[-1]):
        raise InvalidInputError("line-of-sight offsets reach beyond the distance table")
    z_gal = np.interp(chi, chi_grid, z_grid)
    z_clu = np.interp(chi_cluster, chi_grid, z_grid)
    v_gal = add_velocities(hubble_velocity(z_gal), v_pec)
    v_clu = add_velocities(hubble_velocity(z_clu), v_pec_host)
    return subtract_velocities(v_gal, v_clu)
