"""Package configuration and version, in a module of their own.

Every module that needs ``conf`` or the package version imports it from here,
so that no submodule imports the package ``__init__`` (which re-exports both).
Configuration holds environment settings only, never science (astropy's
``docs/config/index.rst``: science choices are arguments or ScienceState).
"""

from astropy import config as _config

__all__ = ["Conf", "conf", "__version__"]

try:
    from .version import version as __version__
except ImportError:  # pragma: no cover - only without an installed build
    __version__ = "0.0.dev0"


class Conf(_config.ConfigNamespace):
    """Configuration parameters for clustermass (environment only, never science)."""

    ned_timeout = _config.ConfigItem(
        60, "Time limit in seconds for one NED query.", cfgtype="float"
    )
    ned_cache = _config.ConfigItem(
        True, "Cache NED replies on disk (in the astropy cache directory).", cfgtype="boolean"
    )
    show_progress = _config.ConfigItem(
        True, "Show progress bars on long work (mock generation, training).",
        cfgtype="boolean",
    )


conf = Conf()
