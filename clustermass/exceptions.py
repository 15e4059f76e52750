"""Exceptions and warnings raised by clustermass.

Every error that clustermass raises on purpose derives from `ClusterMassError`,
and every warning from `ClusterMassWarning` (itself an
`~astropy.utils.exceptions.AstropyUserWarning`), following the layout of
``photutils/utils/exceptions.py`` and ``sunpy/util/exceptions.py``.
Errors about bad input also derive from `ValueError`, so generic handlers keep
working.
"""

import warnings

from astropy.utils.exceptions import AstropyUserWarning

__all__ = [
    "ClusterMassError",
    "InvalidInputError",
    "UnknownClusterError",
    "NEDError",
    "NEDServiceError",
    "NEDTimeoutError",
    "OfflineError",
    "ModelError",
    "IncompatibleModelError",
    "ClusterMassWarning",
    "FewMembersWarning",
    "NoRedshiftsWarning",
    "ModelExtrapolationWarning",
    "RedshiftExtrapolationWarning",
    "SupportEdgeWarning",
    "OfflineSnapshotWarning",
    "UnitsAssumedWarning",
    "warn_user",
]


class ClusterMassError(Exception):
    """Base class of all errors raised by clustermass."""


class InvalidInputError(ClusterMassError, ValueError):
    """Input data that clustermass cannot use (missing columns, NaNs, wrong units, ...)."""


class UnknownClusterError(ClusterMassError, ValueError):
    """A cluster name that clustermass does not know."""


class NEDError(ClusterMassError):
    """Base class of errors met while querying NED."""


class NEDServiceError(NEDError):
    """NED answered with an error or with something that is not a VOTable."""


class NEDTimeoutError(NEDError, TimeoutError):
    """NED did not answer in time."""


class OfflineError(ClusterMassError):
    """Data are needed from the network, but the network cannot be reached."""


class ModelError(ClusterMassError):
    """A model file that is missing, corrupt or unusable."""


class IncompatibleModelError(ModelError):
    """A model trained on another phase-space grid or with another version."""


class ClusterMassWarning(AstropyUserWarning):
    """Base class of all warnings issued by clustermass."""


class FewMembersWarning(ClusterMassWarning):
    """Few galaxies inside the phase-space window: the mass will be uncertain."""


class NoRedshiftsWarning(ClusterMassWarning):
    """Objects without a usable redshift were dropped."""


class ModelExtrapolationWarning(ClusterMassWarning):
    """The input lies outside the range the model was trained on."""


class RedshiftExtrapolationWarning(ModelExtrapolationWarning):
    """The cluster redshift lies outside the redshifts the model was trained at."""


class SupportEdgeWarning(ModelExtrapolationWarning):
    """The posterior piles up at an edge of the masses the model was trained on.

    See `clustermass.posterior.MassPosterior.at_support_edge`.
    """


class UnitsAssumedWarning(ClusterMassWarning):
    """A plain number was given for a physical quantity and taken in its default unit.

    The default units (h^-1 Mpc for projected radii, km/s for velocities,
    degrees for sky positions) are listed in the user guide ("Inputs and
    units"); give an `~astropy.units.Quantity` to silence the warning.
    """


class OfflineSnapshotWarning(ClusterMassWarning):
    """An offline snapshot shipped with clustermass was used instead of a live query."""


def warn_user(msg, category=ClusterMassWarning, stacklevel=1):
    """Issue a clustermass warning pointing at the caller's caller.

    Parameters
    ----------
    msg : str
        The message.
    category : type, optional
        A subclass of `ClusterMassWarning`.
    stacklevel : int, optional
        As in `warnings.warn`, counted from the caller of this function.
    """
    warnings.warn(msg, category, stacklevel=stacklevel + 1)
