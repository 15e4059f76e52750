"""Model specifications: the one place where a name or a path becomes a model.

Everything that accepts a model (`clustermass.core.ClusterMass.infer`, the
command line, `clustermass.workflows`) passes what the user gave to
`load_model`, so that every entry point accepts the same names:

* ``"contaminated"`` or ``"pure"``: a flow shipped with clustermass
  (`clustermass.flow.MassFlow.pretrained`);
* ``"msigma"`` (or ``"m-sigma"``, ``"evrard08"``): the M-sigma relation of
  Evrard et al. (2008), `clustermass.baselines.MSIGMA`;
* the path of a model directory written by `clustermass.flow.MassFlow.save`;
* a `~clustermass.flow.MassFlow` or `~clustermass.baselines.MSigmaEstimator`,
  returned as it is.

Names are matched case-insensitively and take precedence over directories of
the same name (write ``./pure`` for a directory called ``pure``).

>>> from clustermass.models import load_model
>>> load_model("M-sigma")
MSigmaEstimator(name='msigma', relation='Evrard et al. 2008, ApJ 672, 122')
"""

import os

from .exceptions import InvalidInputError

__all__ = ["load_model", "MODEL_NAMES", "PRETRAINED_MODELS", "MSIGMA_NAMES", "DEFAULT_MODEL"]

#: Names of the flows that ship with clustermass (`clustermass.flow.MassFlow.pretrained`).
PRETRAINED_MODELS = ("contaminated", "pure")

#: Names (aliases) of the M-sigma estimator, `clustermass.baselines.MSIGMA`.
MSIGMA_NAMES = ("msigma", "m-sigma", "evrard08")

#: Every model name that `load_model` accepts (besides a model directory).
MODEL_NAMES = (*PRETRAINED_MODELS, *MSIGMA_NAMES)

#: The model used when none is given: the flow trained on contaminated mocks,
#: which reads every galaxy in the cylinder as a real survey does.
DEFAULT_MODEL = "contaminated"


def _accepted():
    return (
        f"one of {', '.join(repr(n) for n in MODEL_NAMES)} (case-insensitive), the path of a"
        " model directory, or a MassFlow"
    )


def load_model(spec=None):
    """The model that ``spec`` names.

    Parameters
    ----------
    spec : str, path-like or model, optional
        A model name (`~clustermass.models.MODEL_NAMES`, case-insensitive),
        the path of a model
        directory, or a model (a `~clustermass.flow.MassFlow` or
        `~clustermass.baselines.MSigmaEstimator`), which is returned
        unchanged. Default `~clustermass.models.DEFAULT_MODEL`.

    Returns
    -------
    model : `~clustermass.flow.MassFlow` or `~clustermass.baselines.MSigmaEstimator`
        A flow (it has ``grid`` and ``posterior(histogram, ...)``) or the
        M-sigma estimator (it has ``grid`` and ``posterior_from_velocities``).

    Raises
    ------
    InvalidInputError
        ``spec`` is none of the above; the message lists the accepted names.
    ModelError
        A shipped model is not installed, or a model directory is unreadable.

    Examples
    --------
    >>> from clustermass.models import load_model
    >>> load_model("Evrard08").name
    'msigma'
    >>> load_model("uniform")
    Traceback (most recent call last):
    ...
    clustermass.exceptions.InvalidInputError: model must be one of 'contaminated', ...
    """
    from .baselines import MSIGMA, MSigmaEstimator

    spec = DEFAULT_MODEL if spec is None else spec
    if isinstance(spec, MSigmaEstimator):
        return spec
    if isinstance(spec, str):
        key = spec.strip().lower()
        if key in MSIGMA_NAMES:
            return MSIGMA
        if key in PRETRAINED_MODELS:
            from .flow import MassFlow

            return MassFlow.pretrained(key)
    if isinstance(spec, (str, os.PathLike)):
        if os.path.isdir(spec):
            from .flow import MassFlow

            return MassFlow.load(os.fspath(spec))
        raise InvalidInputError(
            f"model must be {_accepted()}; got {os.fspath(spec)!r}, which is neither a model"
            " name nor a directory"
        )
    from .flow import MassFlow

    if isinstance(spec, MassFlow):
        return spec
    raise InvalidInputError(f"model must be {_accepted()}; got {spec!r}")
