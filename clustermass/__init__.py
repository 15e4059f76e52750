"""clustermass: dynamical masses of galaxy clusters with conditional normalizing flows.

Given the galaxies around a cluster (sky positions and redshifts, e.g. from
NED), clustermass returns the probability distribution of the cluster's mass
M200c, inferred by a conditional normalizing flow trained on mock cluster
catalogues (Kodi Ramanah, Wojtak, Ansari, Gall & Hjorth 2020, MNRAS 499, 1985),
or by the classical M-sigma relation (Evrard et al. 2008).

>>> import clustermass
>>> cm = clustermass.ClusterMass.from_ned("Coma")  # doctest: +SKIP
>>> cm.infer().median  # doctest: +SKIP

The heavy parts (TensorFlow, astroquery) are imported only when they are
needed, so ``import clustermass`` stays fast.
"""

import importlib

from . import exceptions as _exceptions
from ._config import Conf, __version__, conf
from .exceptions import *  # noqa: F403
from .logger import log

# Public objects, imported on first access so that ``import clustermass`` does not
# pull in astropy.cosmology, scipy, matplotlib or TensorFlow.
_LAZY = {
    "ClusterMass": "core",
    "MassPosterior": "posterior",
    "PhaseSpaceGrid": "phasespace",
    "MassFlow": "flow",
    "weigh_catalogue": "survey",
}

__all__ = ["Conf", "conf", "log", "__version__", *_LAZY, *_exceptions.__all__]  # noqa: PLE0604


def __getattr__(name):
    if name in _LAZY:
        module = importlib.import_module(f".{_LAZY[name]}", __name__)
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
