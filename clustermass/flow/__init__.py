"""Conditional normalizing flows for p(log10 M200c | phase-space histogram).

`MassFlow` learns the posterior density of a cluster's mass,
``log10[M200c / (h^-1 Msun)]``, given its projected phase-space histogram ``d``
(the flattened histogram on a `~clustermass.phasespace.PhaseSpaceGrid`, 2500
numbers by default), following Kodi Ramanah, Wojtak, Ansari, Gall & Hjorth
(2020, MNRAS 499, 1985; "KR20" below). The density is a TensorFlow
Probability ``TransformedDistribution``: a standard normal base pushed through
a chain of bijectors whose parameters are computed from ``d`` by multilayer
perceptrons. All densities come from TFP's bijectors and distributions.

Two configurations ship (see `FlowConfig`):

``"paper"``
    KR20's model: three affine blocks, each with its own MLP reading ``d``
    (tanh hidden layers of 512, 64 and 512 units) that outputs a shift (linear)
    and a scale (exponential). As log M is a single number, each block's shift
    and scale depend on ``d`` only, and a chain of affine maps is affine: this
    model is a Gaussian in log M with learned mean and width.
``"default"``
    A flow that can be skewed, heavy-shouldered or bimodal: a shared MLP
    embedding of ``d`` (tanh, 512 and 64 units) conditions a rational-quadratic
    spline (Durkan et al. 2019, NeurIPS; 8 bins on [-4, 4] in standardised
    log M) followed by an affine block. Its input is the histogram divided by
    its total (the *shape* of the phase space, not the number of galaxies),
    smoothed with a Gaussian of 2 bins, and it is trained with random galaxy
    thinning, so that its posteriors do not depend on the depth of a survey
    (see `FlowConfig` for the reasons and the measurements behind them).

The package is split by role (the estimator, trainer and posterior are
separate things, as in sbi):

`clustermass.flow.config`
    `FlowConfig` and the named `PRESETS`.
`clustermass.flow.model`
    `MassFlow`: construction, training (delegated to the trainer),
    posteriors, saving and loading, the shipped models.
`clustermass.flow.fit`
    The trainer (`~clustermass.flow.fit.Trainer`) and its numpy helpers:
    group-wise train/validation split, batch schedule, galaxy thinning,
    early stopping, checkpoints.
``clustermass.flow._network``
    The network and the bijector chain: the only clustermass module that
    imports TensorFlow, TensorFlow Probability and tf-keras, and it does so on
    first use, so ``import clustermass.flow`` is cheap. Its functions take and
    return numpy arrays; TF tensors never leave it.
``clustermass.flow._modelfile``
    The on-disk model format (``model.json`` and ``weights.npz``).
"""

from ._modelfile import FORMAT_VERSION
from .config import PRESETS, FlowConfig, parse_config_override
from .model import PRETRAINED_KINDS, MassFlow, pretrained_path

__all__ = ["FlowConfig", "MassFlow", "PRESETS", "PRETRAINED_KINDS", "FORMAT_VERSION",
           "parse_config_override", "pretrained_path"]

__doctest_requires__ = {"*": ["tensorflow_probability"]}
