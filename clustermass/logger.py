"""The clustermass logger, an `~astropy.logger.AstropyLogger` named ``clustermass``.

Built the way ``sunpy/util/logger.py`` builds its own: temporarily make
`~astropy.logger.AstropyLogger` the logger class and ask `logging` for ours.
"""

import logging

from astropy.logger import AstropyLogger

__all__ = ["log"]


def _init_log():
    original = logging.getLoggerClass()
    logging.setLoggerClass(AstropyLogger)
    try:
        logger = logging.getLogger("clustermass")
        logger._set_defaults()
    finally:
        logging.setLoggerClass(original)
    return logger


log = _init_log()
