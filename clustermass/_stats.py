"""Small statistics helpers shared by the estimators and the validation code.

Private module with public names: one copy of each helper.
"""

import numpy as np

from .exceptions import InvalidInputError

__all__ = ["biweight_dispersion", "cdf_rows", "quantiles_rows"]


def biweight_dispersion(v, *, axis=None):
    """Biweight scale of velocities with tuning constant c = 9.

    The robust dispersion estimator of Beers, Flynn & Gebhardt (1990, AJ 100,
    32), as `astropy.stats.biweight_scale` with ``c=9.0`` and the sample-size
    correction, used by every velocity-dispersion estimate in the package.
    """
    from astropy.stats import biweight_scale

    return biweight_scale(v, c=9.0, axis=axis, modify_sample_size=True)


def cdf_rows(pdfs, grid):
    """Normalised densities and cumulative distributions of many rows on one grid.

    Parameters
    ----------
    pdfs : ndarray
        Shape ``(n, n_grid)`` (or ``(n_grid,)``), densities of any normalisation.
    grid : ndarray
        Shape ``(n_grid,)``, increasing.

    Returns
    -------
    pdfs, cdfs : ndarray
        Both normalised to unit integral (trapezoid rule), same shape as ``pdfs``.
    """
    pdfs = np.asarray(pdfs, dtype=float)
    one = pdfs.ndim == 1
    pdfs = np.atleast_2d(pdfs)
    steps = 0.5 * (pdfs[:, 1:] + pdfs[:, :-1]) * np.diff(grid)[None, :]
    cdf = np.concatenate([np.zeros((len(pdfs), 1)), np.cumsum(steps, axis=1)], axis=1)
    total = cdf[:, -1:]
    if np.any(total <= 0):
        raise InvalidInputError("a posterior density integrates to zero on the grid")
    pdfs, cdf = pdfs / total, cdf / total
    return (pdfs[0], cdf[0]) if one else (pdfs, cdf)


def quantiles_rows(cdf, grid, qs):
    """Quantiles ``qs`` of each row of ``cdf`` (shape ``(n, n_grid)``) on ``grid``.

    Flat stretches of a CDF (zero density) are skipped so that the inverse is
    well defined.
    """
    cdf = np.atleast_2d(cdf)
    qs = np.asarray(qs, dtype=float)
    out = np.empty((len(cdf), qs.size))
    for i, row in enumerate(cdf):
        keep = np.concatenate([[True], np.diff(row) > 0])
        out[i] = np.interp(qs.ravel(), row[keep], grid[keep])
    return out
