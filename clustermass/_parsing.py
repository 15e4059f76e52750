"""The one parser of ``NAME=VALUE`` overrides, shared by the command line
(``clustermass train --set``, ``clustermass mock --set``) and the scripts.

Private module with public names.
"""

import json

from .exceptions import InvalidInputError

__all__ = ["parse_override", "parse_overrides"]


def parse_override(text):
    """Parse one ``NAME=VALUE`` override.

    The value is read as JSON where it can be (numbers, lists, ``true``,
    ``null``) and kept as a (stripped) string otherwise.

    Examples
    --------
    >>> from clustermass._parsing import parse_override
    >>> parse_override("augment_thin=[0.75, 1.0]")
    ('augment_thin', [0.75, 1.0])
    >>> parse_override("marginals=true")
    ('marginals', True)
    >>> parse_override("activation=relu")
    ('activation', 'relu')
    """
    name, sep, value = str(text).partition("=")
    name = name.strip()
    if not name or not sep:
        raise InvalidInputError(f"expected NAME=VALUE, got {text!r}")
    try:
        return name, json.loads(value)
    except ValueError:
        return name, value.strip()


def parse_overrides(items, *, known=None, what="parameter", hint=""):
    """Parse several ``NAME=VALUE`` overrides into a dict.

    Parameters
    ----------
    items : iterable of str or None
        The overrides, e.g. the values of a repeatable ``--set`` option.
    known : iterable of str, optional
        The allowed names; an unknown name raises
        `~clustermass.exceptions.InvalidInputError` naming ``what`` and ``hint``.
    """
    known = None if known is None else set(known)
    out = {}
    for item in items or []:
        name, value = parse_override(item)
        if known is not None and name not in known:
            raise InvalidInputError(
                f"unknown {what} {name!r}" + (f"; {hint}" if hint else "")
            )
        out[name] = value
    return out
