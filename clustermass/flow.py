"""Conditional normalizing flows for p(log10 M200c | phase-space histogram).

`MassFlow` learns the posterior density of a cluster's mass,
``log10[M200c / (h^-1 Msun)]``, given its projected phase-space histogram ``d``
(the flattened histogram on a `~clustermass.phasespace.PhaseSpaceGrid`, 2500
numbers by default), following Kodi Ramanah, Wojtak, Ellingsen & Hansen
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

This is the only clustermass module that imports TensorFlow, TensorFlow
Probability and tf-keras, and it does so on first use: ``import
clustermass.flow`` is cheap. Arrays in and out are numpy arrays; TF tensors
never leave this module.
"""

import contextlib
import dataclasses
import datetime
import functools
import hashlib
import json
import os
import shutil
import sys
import tempfile
import warnings

import numpy as np

from .exceptions import (
    ClusterMassWarning,
    IncompatibleModelError,
    InvalidInputError,
    ModelError,
    ModelExtrapolationWarning,
    warn_user,
)
from .logger import log
from .phasespace import PhaseSpaceGrid
from .training import file_sha256

__all__ = ["FlowConfig", "MassFlow", "PRESETS", "PRETRAINED_KINDS", "FORMAT_VERSION",
           "parse_config_override"]

__doctest_requires__ = {"*": ["tensorflow_probability"]}

#: Version of the on-disk model format written by `MassFlow.save`.
FORMAT_VERSION = 1
_FORMAT_NAME = "clustermass.MassFlow"
_WEIGHTS_FILE = "weights.npz"
_MODEL_FILE = "model.json"

#: Kinds of shipped models, in ``clustermass/data/models/<kind>/``.
PRETRAINED_KINDS = ("contaminated", "pure")

_NORMALIZE = ("fraction", "log1p", "counts")
_STANDARDIZE = ("global", "pixel")
_BLOCKS = ("affine", "spline")
_ACTIVATIONS = ("tanh", "relu", "elu", "gelu", "swish", "sigmoid")
# Floor of per-pixel scales, relative to the global scale (sbi issue #126:
# pixels that are always empty in the training set have zero variance).
_PIXEL_SCALE_FLOOR = 0.1
_MIN_BIN = 1e-2
_MIN_SLOPE = 1e-3


# ----------------------------------------------------------------------------
# Lazy TensorFlow
# ----------------------------------------------------------------------------
@functools.cache
def _tf():
    """Import TensorFlow, TFP and tf-keras once; return them in a namespace."""
    import os
    from types import SimpleNamespace

    # TensorFlow's C++ start-up chatter (no GPU found, CPU instructions) is not for
    # our users; an explicit setting of the variable wins.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with warnings.catch_warnings(), _native_stderr_silenced():
        # TFP < 0.26 checks the TF version with distutils' LooseVersion, which
        # warns on import; nothing a user can act on.
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        import tensorflow as tf
        import tensorflow_probability as tfp
        import tf_keras

        tfp.distributions  # noqa: B018 - force the lazy loader while warnings are off
        tfp.bijectors  # noqa: B018
        # Device discovery (CUDA initialisation) logs too; do it now, silently.
        tf.config.list_physical_devices()
    return SimpleNamespace(tf=tf, tfp=tfp, tfd=tfp.distributions, tfb=tfp.bijectors,
                           keras=tf_keras)


@contextlib.contextmanager
def _native_stderr_silenced():
    """Send what C++ code writes to file descriptor 2 to the null device meanwhile.

    TensorFlow >= 2.17 logs through absl before its logging is initialised, which
    ``TF_CPP_MIN_LOG_LEVEL`` does not reach ("All log messages before
    absl::InitializeLog() is called are written to STDERR", oneDNN and CUDA
    notices). Python exceptions are unaffected; where standard error has no
    file descriptor (e.g. captured by pytest or a notebook) nothing is changed.
    """
    try:
        fd = sys.stderr.fileno()
        sys.stderr.flush()
        saved = os.dup(fd)
    except (AttributeError, OSError, ValueError):
        yield
        return
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, fd)
        yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)
        os.close(null)


def _versions():
    import sys

    from . import __version__

    out = {"clustermass": __version__, "numpy": np.__version__,
           "python": sys.version.split()[0]}
    T = _tf()
    out.update(tensorflow=T.tf.__version__, tensorflow_probability=T.tfp.__version__,
               tf_keras=T.keras.__version__)
    return out


# ----------------------------------------------------------------------------
# Configuration
# ----------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class FlowConfig:
    """Architecture, input scaling and training settings of a `MassFlow`.

    Use `FlowConfig.preset` for the named configurations (``"default"``,
    ``"paper"``), with keyword overrides for experiments.

    Parameters
    ----------
    name : str
        Name of the configuration (recorded with the model).
    blocks : tuple of str
        Bijector blocks from the base distribution towards log M: ``"affine"``
        (shift and exponential scale) or ``"spline"`` (rational-quadratic
        spline, ``tfp.bijectors.RationalQuadraticSpline``). Whatever the chain,
        a final fixed affine map undoes the standardisation of log M.
    embedding_units : tuple of int
        Hidden layers of an MLP shared by all blocks (empty: none, the blocks
        read the scaled histogram directly).
    block_units : tuple of int
        Hidden layers of each block's own MLP (after the embedding).
    activation : str
        Activation of the hidden layers (KR20: tanh).
    spline_bins : int
        Number of spline bins.
    spline_bound : float
        The spline acts on [-B, B] (identity outside), in units of the
        standardised log mass.
    normalize : {'fraction', 'log1p', 'counts'}
        Transform of the galaxy counts before standardisation:
        ``'fraction'``: counts / total counts x number of bins (the shape of the
        phase-space distribution, independent of survey depth);
        ``'log1p'``: log(1 + counts); ``'counts'``: unchanged.
    smooth : float
        Width (standard deviation, in bins) of a fixed Gaussian kernel that
        smooths the transformed histogram, like the kernel density estimates
        that Ho et al. (2019, ApJ 887, 25) and Kodi Ramanah, Wojtak & Arendse
        (2020, MNRAS 499, 1985) feed to their networks; 0 turns it off.
    pool : int
        After smoothing, average the (R, v) image over blocks of ``pool x
        pool`` bins before the network reads it (1: off). Fewer inputs mean
        fewer weights in the first layer and less overfitting; ``pool`` must
        divide both dimensions of the grid.
    marginals : bool
        Also give the network the two one-dimensional marginals of the
        transformed histogram before smoothing and pooling: the radial profile
        (mean over velocity bins) and the line-of-sight velocity distribution
        (mean over radial bins), at the grid's full resolution. With tens of
        galaxies a 2-D histogram must be smoothed, which blurs the velocity
        dispersion of a poor cluster; its 1-D marginals are far less noisy.
        On the pure mocks they improve the held-out NLL by 0.05 nats; with
        interlopers they gain nothing (docs, validation chapter).
    standardize : {'global', 'pixel'}
        Standardise the transformed inputs with one mean and standard
        deviation for all bins (``'global'``, keeps the image's structure;
        sbi issues #570, #597) or one per bin with the scale floored at 0.1 of
        the global one (``'pixel'``; sbi #126: always-empty bins). Statistics
        come from the training split only.
    learning_rate, beta_1, beta_2 : float
        Adam settings (KR20: 1e-4, 0.5, 0.999).
    lr_half_life : int or None
        If set, the learning rate decays exponentially and halves every this
        many updates (``tf_keras.optimizers.schedules.ExponentialDecay``; a
        function of the optimizer's step count, so a resumed run follows the
        same schedule). ``None``: constant (KR20).
    batch_size : int
        Clusters per update (KR20: 100).
    max_updates : int
        Maximum number of updates (KR20: ~2000).
    patience : int or None
        Early stopping after this many updates without improvement of the
        validation loss (KR20: 200); the best weights are restored.
    eval_every : int
        Evaluate the validation loss every this many updates.
    checkpoint_every : int
        Write a checkpoint every this many updates (when a checkpoint
        directory is given).
    augment_thin : tuple of float or None
        During training, keep each galaxy of a training histogram with a
        probability drawn uniformly from this range, anew for every batch
        (binomial thinning of each bin, exact for random galaxy loss).
        ``None``: no augmentation.

    Notes
    -----
    Why the default differs from the paper's model:

    * A chain of affine bijectors on a scalar is one affine map, so the paper's
      flow is a Gaussian in log M (DESIGN.md, section 1; sbi issue #168).
      Interlopers and mergers produce skewed and bimodal posteriors, which the
      spline block can represent; held-out negative log-likelihood decides.
    * Galaxy counts in mocks (subhaloes above a fixed accreted mass) and in a
      real redshift survey (a magnitude limit, incompleteness) differ. A model
      reading raw counts learns the mock's richness-mass relation and shifts its
      masses when a survey is shallower or deeper. ``normalize='fraction'``
      removes the total number of galaxies from the input (scaling all counts
      leaves the posterior unchanged), and training with thinned histograms
      teaches the model how much sparser phase spaces should widen the
      posterior. The ``paper`` preset keeps the counts (as ``log1p``), no
      smoothing and no augmentation.
    * With ~100 galaxies spread over 2500 bins, the histogram is mostly shot
      noise and a dense network on it overfits within a few hundred updates;
      smoothing it over ~2 bins (a kernel density estimate on the grid) gives
      better held-out likelihoods.

    On toy phase spaces with interlopers and mergers
    (``benchmarks/bench_flow.py --compare``; 10,000 training clusters from
    2500 hosts, 1000 test clusters from other hosts): held-out NLL in nats per
    cluster, on the test clusters as they are and thinned to 70% of their
    galaxies, and the mean shift of the posterior mean under that thinning, in
    units of the posterior standard deviation (means over two training seeds
    where two were run; seed-to-seed differences are ~0.03 nats):

    ================================= ======= =============== ============
    configuration                     NLL     NLL (thinned)   mean shift
    ================================= ======= =============== ============
    paper (log1p counts)              -0.32   +0.53           -1.2 sigma
    spline, log1p, thinning           -0.18   -0.22           -0.44 sigma
    spline, fraction, thinning        -0.05   +0.06           -0.00 sigma
    + smoothed 2 bins                 -0.39   -0.28           -0.14 sigma
    same, one affine block (Gaussian) -0.39   -0.26           -0.22 sigma
    ================================= ======= =============== ============

    (The toys were run with thinning over 0.4-1.) On the mock catalogues, the
    ``default`` preset's remaining choices (2 x 2 pooling, thinning over
    0.75-1, 20,000 updates with patience 1000) were made with
    ``scripts/compare_configs.py``; the measurements are tabulated in the
    validation chapter of the documentation.

    On these toys the posteriors are close to Gaussian and the spline gains
    nothing measurable over an affine block; it is kept because it can
    represent skewed and bimodal posteriors (see the bimodal test in
    ``tests/test_flow.py``, where it wins by a wide margin) and it moved less
    under thinning.

    Examples
    --------
    >>> from clustermass.flow import FlowConfig
    >>> FlowConfig.preset("paper").blocks
    ('affine', 'affine', 'affine')
    >>> FlowConfig.preset("default", spline_bins=12).spline_bins
    12
    """

    name: str = "custom"
    blocks: tuple = ("spline", "affine")
    embedding_units: tuple = (512, 64)
    block_units: tuple = ()
    activation: str = "tanh"
    spline_bins: int = 8
    spline_bound: float = 4.0
    normalize: str = "fraction"
    smooth: float = 0.0
    pool: int = 1
    marginals: bool = False
    standardize: str = "global"
    learning_rate: float = 1e-4
    lr_half_life: int | None = None
    beta_1: float = 0.5
    beta_2: float = 0.999
    batch_size: int = 100
    max_updates: int = 2000
    patience: int | None = 200
    eval_every: int = 50
    checkpoint_every: int = 100
    augment_thin: tuple | None = None

    def __post_init__(self):
        def fix(name, value):
            object.__setattr__(self, name, value)

        try:
            fix("blocks", tuple(str(b) for b in self.blocks))
            fix("embedding_units", tuple(int(u) for u in self.embedding_units))
            fix("block_units", tuple(int(u) for u in self.block_units))
            if self.marginals not in (True, False):
                raise ValueError(f"marginals must be true or false, got {self.marginals!r}")
            fix("marginals", bool(self.marginals))
            if self.augment_thin is not None:
                fix("augment_thin", tuple(float(p) for p in self.augment_thin))
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"invalid FlowConfig: {exc}") from exc
        if not self.blocks or any(b not in _BLOCKS for b in self.blocks):
            raise InvalidInputError(
                f"blocks must be a non-empty sequence of {_BLOCKS}, got {self.blocks!r}"
            )
        if any(u < 1 for u in self.embedding_units + self.block_units):
            raise InvalidInputError("layer sizes must be positive integers")
        if self.activation not in _ACTIVATIONS:
            raise InvalidInputError(
                f"activation must be one of {_ACTIVATIONS}, got {self.activation!r}"
            )
        if self.normalize not in _NORMALIZE:
            raise InvalidInputError(
                f"normalize must be one of {_NORMALIZE}, got {self.normalize!r}"
            )
        if self.standardize not in _STANDARDIZE:
            raise InvalidInputError(
                f"standardize must be one of {_STANDARDIZE}, got {self.standardize!r}"
            )
        if not (0 <= float(self.smooth) <= 10):
            raise InvalidInputError(f"smooth must be in [0, 10] bins, got {self.smooth}")
        if int(self.pool) < 1:
            raise InvalidInputError(f"pool must be a positive integer, got {self.pool}")
        if int(self.spline_bins) < 2:
            raise InvalidInputError(f"spline_bins must be >= 2, got {self.spline_bins}")
        if not float(self.spline_bound) > _MIN_BIN * int(self.spline_bins):
            raise InvalidInputError(f"spline_bound must be positive, got {self.spline_bound}")
        for name in ("batch_size", "max_updates", "eval_every", "checkpoint_every"):
            if int(getattr(self, name)) < 1:
                raise InvalidInputError(f"{name} must be a positive integer")
        if self.patience is not None and int(self.patience) < 1:
            raise InvalidInputError("patience must be a positive integer or None")
        if not float(self.learning_rate) > 0:
            raise InvalidInputError("learning_rate must be positive")
        if self.lr_half_life is not None and not int(self.lr_half_life) >= 1:
            raise InvalidInputError("lr_half_life must be a positive integer or None")
        _check_thin_range(self.augment_thin)

    # -- presets -------------------------------------------------------------
    @classmethod
    def preset(cls, name, **overrides):
        """A named configuration, ``"default"`` or ``"paper"``, with optional overrides.

        Raises
        ------
        InvalidInputError
            Unknown preset name or override.
        """
        key = str(name).lower()
        if key not in PRESETS:
            raise InvalidInputError(
                f"unknown flow configuration {name!r}; available: {', '.join(PRESETS)}"
            )
        return PRESETS[key].replace(**overrides)

    def replace(self, **changes):
        """A copy with some fields changed."""
        names = {f.name for f in dataclasses.fields(self)}
        bad = sorted(set(changes) - names)
        if bad:
            raise InvalidInputError(
                f"unknown FlowConfig field(s) {bad}; valid fields: {sorted(names)}"
            )
        return dataclasses.replace(self, **changes)

    def to_dict(self):
        """A JSON-serialisable dict."""
        d = dataclasses.asdict(self)
        for k, v in d.items():
            if isinstance(v, tuple):
                d[k] = list(v)
        return d

    @classmethod
    def from_dict(cls, d):
        """Rebuild from `FlowConfig.to_dict` (unknown keys are an error)."""
        if not isinstance(d, dict):
            raise InvalidInputError(f"not a FlowConfig description: {d!r}")
        names = {f.name for f in dataclasses.fields(cls)}
        bad = sorted(set(d) - names)
        if bad:
            raise InvalidInputError(f"unknown FlowConfig field(s) {bad}")
        return cls(**d)

    @property
    def gaussian(self):
        """True when the flow is a Gaussian in log M (affine blocks only)."""
        return all(b == "affine" for b in self.blocks)


def parse_config_override(text):
    """Parse one ``NAME=VALUE`` override of a `FlowConfig` field.

    The value is read as JSON where it can be (numbers, lists, ``true``,
    ``null``) and kept as a string otherwise; the name is checked when the
    override is applied (`FlowConfig.preset`, `FlowConfig.replace`).

    Examples
    --------
    >>> from clustermass.flow import parse_config_override
    >>> parse_config_override("augment_thin=[0.75, 1.0]")
    ('augment_thin', [0.75, 1.0])
    >>> parse_config_override("marginals=true")
    ('marginals', True)
    >>> parse_config_override("activation=relu")
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


def _check_thin_range(r):
    if r is None:
        return
    if len(r) != 2 or not (0 < r[0] <= r[1] <= 1):
        raise InvalidInputError(
            f"augment_thin must be a pair (p_min, p_max) with 0 < p_min <= p_max <= 1, got {r!r}"
        )


#: The named configurations.
PRESETS = {
    # Kodi Ramanah et al. (2020), section 3: three affine blocks, per-block MLPs of
    # 512-64-512 tanh units reading d, shift (linear) and scale (exponential),
    # Adam(1e-4, 0.5, 0.999), batch 100, ~2000 updates, early stopping after 200.
    "paper": FlowConfig(
        name="paper",
        blocks=("affine", "affine", "affine"),
        embedding_units=(),
        block_units=(512, 64, 512),
        activation="tanh",
        normalize="log1p",
        standardize="global",
        augment_thin=None,
    ),
    # Spline + affine on a shared tanh embedding; depth-robust, smoothed input and
    # thinning augmentation (chosen by held-out NLL: see FlowConfig Notes).
    "default": FlowConfig(
        name="default",
        blocks=("spline", "affine"),
        embedding_units=(512, 64),
        block_units=(),
        activation="tanh",
        spline_bins=8,
        spline_bound=4.0,
        normalize="fraction",
        smooth=2.0,
        pool=2,
        standardize="global",
        augment_thin=(0.75, 1.0),
        max_updates=20000,
        patience=1000,
        eval_every=50,
    ),
}


def _resolve_config(config):
    if isinstance(config, FlowConfig):
        return config
    if isinstance(config, str):
        return FlowConfig.preset(config)
    if isinstance(config, dict):
        return FlowConfig.from_dict(config)
    raise InvalidInputError(
        f"config must be 'default', 'paper' or a FlowConfig, got {config!r}"
    )


# ----------------------------------------------------------------------------
# The TensorFlow side
# ----------------------------------------------------------------------------
def _n_params(config, kind):
    return 2 if kind == "affine" else 3 * config.spline_bins - 1


def _build_net(config, n_in, seed):
    """Functional tf-keras model: scaled histogram -> one parameter vector per block."""
    T = _tf()
    K = T.keras
    counter = iter(range(10**6))

    def dense(units, activation, name, zero=False):
        init = (K.initializers.Zeros() if zero
                else K.initializers.GlorotUniform(seed=int(seed) * 1000 + next(counter)))
        return K.layers.Dense(units, activation=activation, name=name,
                              kernel_initializer=init, bias_initializer="zeros")

    inputs = K.Input(shape=(n_in,), name="d")
    h = inputs
    for i, units in enumerate(config.embedding_units):
        h = dense(units, config.activation, f"embedding_{i}")(h)
    outputs = []
    for b, kind in enumerate(config.blocks):
        hb = h
        for i, units in enumerate(config.block_units):
            hb = dense(units, config.activation, f"block{b}_{kind}_hidden{i}")(hb)
        # Zero-initialised output layer: the flow starts as the identity, i.e.
        # the training distribution of log M.
        outputs.append(dense(_n_params(config, kind), None, f"block{b}_{kind}_params",
                             zero=True)(hb))
    return K.Model(inputs=inputs, outputs=outputs, name=f"massflow_{config.name}")


class _Core:
    """The TensorFlow objects of one `MassFlow` (network, scaling, compiled functions)."""

    def __init__(self, config, n_in, seed=0, shape=None):
        T = _tf()
        tf = T.tf
        self.config = config
        self.n_in = int(n_in)
        self.shape = (1, self.n_in) if shape is None else tuple(shape)
        # (MassFlow checks that the pool divides the grid.)
        self.pooled_shape = tuple(n // int(config.pool) for n in self.shape)
        self.n_feat = n_feat = int(np.prod(self.pooled_shape)) + (
            sum(self.shape) if config.marginals else 0)
        self.module = tf.Module(name="massflow")
        self.module.net = _build_net(config, n_feat, seed)
        self.module.x_mean = tf.Variable(tf.zeros([n_feat]), trainable=False, name="x_mean")
        self.module.x_scale = tf.Variable(tf.ones([n_feat]), trainable=False, name="x_scale")
        self.module.y_mean = tf.Variable(0.0, trainable=False, name="y_mean")
        self.module.y_std = tf.Variable(1.0, trainable=False, name="y_std")
        self.smoothers = _smoothing_matrices(config.smooth, self.shape)
        spec_x = tf.TensorSpec([None, n_in], tf.float32)
        spec_y = tf.TensorSpec([None], tf.float32)
        # Closures (not bound methods) so that each flow's functions are traced
        # and counted separately by TensorFlow.
        self.raw_features = tf.function(lambda c: self._raw_features(c),
                                        input_signature=[spec_x], autograph=False)
        self.log_prob_pairs = tf.function(lambda c, y: self._log_prob_pairs(c, y),
                                          input_signature=[spec_x, spec_y], autograph=False)
        self.log_prob_grid = tf.function(lambda c, g: self._log_prob_grid(c, g),
                                         input_signature=[spec_x, spec_y], autograph=False)
        self.sample = tf.function(lambda c, n, s: self._sample(c, n, s), input_signature=[
            spec_x, tf.TensorSpec([], tf.int32), tf.TensorSpec([2], tf.int32)], autograph=False)
        self.optimizer = None
        self.train_step = None

    @property
    def net(self):
        return self.module.net

    # -- scaling -------------------------------------------------------------
    def set_scaling(self, s):
        self.module.x_mean.assign(np.asarray(s["x_mean"], np.float32))
        self.module.x_scale.assign(np.asarray(s["x_scale"], np.float32))
        self.module.y_mean.assign(float(s["y_mean"]))
        self.module.y_std.assign(float(s["y_std"]))

    def get_scaling(self):
        m = self.module
        return {"x_mean": m.x_mean.numpy(), "x_scale": m.x_scale.numpy(),
                "y_mean": float(m.y_mean.numpy()), "y_std": float(m.y_std.numpy())}

    def _raw_features(self, counts):
        """Counts -> transformed (and smoothed) histogram, before standardisation."""
        tf = _tf().tf
        norm = self.config.normalize
        if norm == "log1p":
            f = tf.math.log1p(counts)
        elif norm == "fraction":
            total = tf.reduce_sum(counts, axis=-1, keepdims=True)
            f = counts / tf.maximum(total, 1.0) * float(self.n_in)
        else:
            f = counts
        marginals = None
        if self.config.marginals:
            # Full-resolution radial profile and velocity distribution, unsmoothed.
            img0 = tf.reshape(f, (-1, *self.shape))
            marginals = [tf.reduce_mean(img0, axis=2), tf.reduce_mean(img0, axis=1)]
        if self.smoothers is not None:
            # Separable Gaussian smoothing of the (R, v) image with zero padding,
            # as two small matrix products: S_r @ image @ S_v^T.
            s_r, s_v = (tf.constant(m, tf.float32) for m in self.smoothers)
            img = tf.reshape(f, (-1, *self.shape))
            img = tf.einsum("ij,bjk,lk->bil", s_r, img, s_v)
            f = tf.reshape(img, (-1, self.n_in))
        k = int(self.config.pool)
        if k > 1:
            (pr, pv) = self.pooled_shape
            img = tf.reshape(f, (-1, pr, k, pv, k))
            f = tf.reshape(tf.reduce_mean(img, axis=(2, 4)), (-1, pr * pv))
        if marginals is not None:
            f = tf.concat([f, *marginals], axis=-1)
        return f

    def features(self, counts):
        return (self._raw_features(counts) - self.module.x_mean) / self.module.x_scale

    # -- the distribution ----------------------------------------------------
    def _spline(self, p):
        T = _tf()
        tf = T.tf
        k = self.config.spline_bins
        bound = float(self.config.spline_bound)
        free = 2.0 * bound - k * _MIN_BIN
        widths = tf.math.softmax(p[:, :k], axis=-1) * free + _MIN_BIN
        heights = tf.math.softmax(p[:, k:2 * k], axis=-1) * free + _MIN_BIN
        # softplus(0 + log(e - 1)) = 1: zero parameters give the identity.
        slopes = _MIN_SLOPE + (1.0 - _MIN_SLOPE) * tf.math.softplus(
            p[:, 2 * k:] + float(np.log(np.expm1(1.0))))
        return T.tfb.RationalQuadraticSpline(widths, heights, slopes, range_min=-bound)

    def distribution(self, counts, training=False):
        """``TransformedDistribution`` over log M with batch shape ``(n_clusters,)``."""
        T = _tf()
        tf, tfb, tfd = T.tf, T.tfb, T.tfd
        outs = self.net(self.features(counts), training=training)
        if not isinstance(outs, (list, tuple)):
            outs = [outs]
        forward = []  # from the base towards log M
        for kind, p in zip(self.config.blocks, outs, strict=True):
            if kind == "affine":
                forward += [tfb.Scale(log_scale=p[:, 1]), tfb.Shift(p[:, 0])]
            else:
                forward.append(self._spline(p))
        # Undo the standardisation of log M (fixed, fitted on the training split).
        forward += [tfb.Scale(tf.convert_to_tensor(self.module.y_std)),
                    tfb.Shift(tf.convert_to_tensor(self.module.y_mean))]
        base = tfd.Normal(loc=tf.zeros_like(outs[0][:, 0]), scale=1.0)
        return tfd.TransformedDistribution(base, tfb.Chain(forward[::-1]))

    def _log_prob_pairs(self, counts, y):
        return self.distribution(counts).log_prob(y)

    def _log_prob_grid(self, counts, grid):
        # (n_grid, 1) against batch (n,) -> (n_grid, n) -> (n, n_grid)
        tf = _tf().tf
        lp = self.distribution(counts).log_prob(grid[:, tf.newaxis])
        return tf.transpose(lp)

    def _sample(self, counts, n, seed):
        tf = _tf().tf
        return tf.transpose(self.distribution(counts).sample(n, seed=seed))

    # -- training ------------------------------------------------------------
    def make_optimizer(self, config):
        T = _tf()
        tf = T.tf
        lr = float(config.learning_rate)
        if config.lr_half_life is not None:
            lr = T.keras.optimizers.schedules.ExponentialDecay(
                lr, decay_steps=int(config.lr_half_life), decay_rate=0.5)
        self.optimizer = T.keras.optimizers.Adam(
            learning_rate=lr, beta_1=config.beta_1, beta_2=config.beta_2)
        self.optimizer.build(self.net.trainable_variables)
        spec_x = tf.TensorSpec([None, self.n_in], tf.float32)
        spec_y = tf.TensorSpec([None], tf.float32)

        def step(counts, y):
            variables = self.net.trainable_variables
            with tf.GradientTape() as tape:
                loss = -tf.reduce_mean(self.distribution(counts, training=True).log_prob(y))
            grads = tape.gradient(loss, variables)
            self.optimizer.apply_gradients(zip(grads, variables, strict=True))
            return loss

        self.train_step = tf.function(step, input_signature=[spec_x, spec_y], autograph=False)

    # -- weights -------------------------------------------------------------
    def weight_arrays(self):
        return [(v.name, v.numpy()) for v in self.net.weights]

    def set_weight_arrays(self, arrays):
        variables = self.net.weights
        if len(arrays) != len(variables):
            raise ModelError(
                f"the weight file holds {len(arrays)} arrays, the network needs {len(variables)}"
            )
        for v, a in zip(variables, arrays, strict=True):
            if tuple(v.shape) != tuple(a.shape):
                raise ModelError(
                    f"weight {v.name}: shape {tuple(a.shape)} in the file, "
                    f"{tuple(v.shape)} expected by the configuration"
                )
        for v, a in zip(variables, arrays, strict=True):
            v.assign(a)


# ----------------------------------------------------------------------------
# Input checking
# ----------------------------------------------------------------------------
def _as_batch(histograms, grid, *, name="histograms"):
    """Return (float32 array (n, n_bins), was_single)."""
    try:
        h = np.asarray(histograms, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{name} must be a numeric array") from exc
    size = grid.size
    if h.ndim == 2 and h.shape == grid.shape or h.ndim == 1 and h.size == size:
        single = True
        h = h.reshape(1, size)
    elif h.ndim == 3 and h.shape[1:] == grid.shape or h.ndim == 2 and h.shape[1] == size:
        single = False
        h = h.reshape(h.shape[0], size)
    else:
        raise InvalidInputError(
            f"{name} must have shape (n, {grid.n_r}, {grid.n_v}) or (n, {size}) for the "
            f"model's grid {grid!r}, or be one histogram of shape {grid.shape}; "
            f"got {np.shape(histograms)}"
        )
    if not np.all(np.isfinite(h)):
        raise InvalidInputError(f"{name} must not contain NaN or infinite values")
    if h.size and h.min() < 0:
        raise InvalidInputError(f"{name} must hold non-negative galaxy counts")
    return np.ascontiguousarray(h), single


def _smoothing_matrices(sigma, shape):
    """Gaussian smoothing matrices (zero padding, kernel cut at 3 sigma) for each axis."""
    if not sigma:
        return None
    out = []
    for n in shape:
        i = np.arange(n)
        d = i[:, None] - i[None, :]
        m = np.exp(-0.5 * (d / sigma) ** 2) * (np.abs(d) <= max(1, int(np.ceil(3 * sigma))))
        # Normalise by the full (untruncated-by-edges) kernel sum.
        half = max(1, int(np.ceil(3 * sigma)))
        k = np.exp(-0.5 * (np.arange(-half, half + 1) / sigma) ** 2)
        out.append((m / k.sum()).astype(np.float32))
    return tuple(out)


def _fit_scaling(config, core, counts, log_mass):
    """Input and output standardisation from the training split."""
    f = np.concatenate([core.raw_features(counts[i:i + 4096]).numpy()
                        for i in range(0, len(counts), 4096)]).astype(np.float64)
    n_in = f.shape[1]
    g_mean = float(f.mean())
    g_std = float(f.std())
    if not g_std > 0:
        g_std = 1.0
    if config.standardize == "global":
        x_mean = np.full(n_in, g_mean)
        x_scale = np.full(n_in, g_std)
    else:
        x_mean = f.mean(axis=0)
        x_scale = np.maximum(f.std(axis=0), _PIXEL_SCALE_FLOOR * g_std)
    y_std = float(np.std(log_mass))
    totals = counts.sum(axis=1)
    return {
        "x_mean": x_mean.astype(np.float32),
        "x_scale": x_scale.astype(np.float32),
        "y_mean": float(np.mean(log_mass)),
        "y_std": y_std if y_std > 0 else 1.0,
        "global_mean": g_mean,
        "global_std": g_std,
        "log_mass_range": [float(np.min(log_mass)), float(np.max(log_mass))],
        "n_galaxies_range": [float(totals.min()), float(totals.max())],
    }


def _metadata_hash(d):
    payload = {k: v for k, v in d.items() if k != "metadata_sha256"}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def _show_progress(progress):
    if progress is None:
        from . import conf

        return bool(conf.show_progress)
    return bool(progress)


# ----------------------------------------------------------------------------
# MassFlow
# ----------------------------------------------------------------------------
class MassFlow:
    """Conditional normalizing flow for p(log10 M200c | phase-space histogram).

    Parameters
    ----------
    config : {'default', 'paper'} or `FlowConfig`, optional
        Architecture and training settings (see `FlowConfig` and the module
        docstring).
    grid : `~clustermass.phasespace.PhaseSpaceGrid`, optional
        The phase-space grid of the input histograms; default the 50 x 50 grid
        of Kodi Ramanah et al. (2020).

    Notes
    -----
    Masses are ``log10[M200c / (h^-1 Msun)]``; histograms hold galaxy counts
    on ``grid`` (shape ``(n, n_r, n_v)``, ``(n, n_r * n_v)``, or one histogram).
    Densities are per dex.

    Examples
    --------
    Train a small flow on toy histograms whose number of galaxies grows with
    mass, and get a posterior:

    >>> import numpy as np
    >>> from clustermass.flow import FlowConfig, MassFlow
    >>> from clustermass.phasespace import PhaseSpaceGrid
    >>> rng = np.random.default_rng(0)
    >>> log_m = rng.uniform(14.0, 15.0, 600)
    >>> rate = 10 ** (log_m - 14.0)[:, None, None] * np.ones((1, 4, 5))
    >>> hists = rng.poisson(rate).astype("float32")
    >>> config = FlowConfig.preset("paper", block_units=(16,), max_updates=300)
    >>> flow = MassFlow(config, grid=PhaseSpaceGrid(n_r=4, n_v=5))
    >>> history = flow.fit(hists, log_m, seed=0, progress=False)
    >>> flow
    MassFlow(config='paper', grid=PhaseSpaceGrid(r_max=<Quantity 1.6 Mpc / littleh>,
             v_max=<Quantity 2200. km / s>, n_r=4, n_v=5), trained=True)
    >>> post = flow.posterior(hists[0])
    >>> post.method
    'flow:paper'
    >>> bool(abs(post.mean - log_m[0]) < 3 * post.std)
    True
    """

    _params = ("config", "grid", "trained")

    def __init__(self, config="default", *, grid=None):
        self._config = _resolve_config(config)
        if grid is None:
            grid = PhaseSpaceGrid()
        if not isinstance(grid, PhaseSpaceGrid):
            raise InvalidInputError(f"grid must be a PhaseSpaceGrid, got {grid!r}")
        k = int(self._config.pool)
        if any(n % k for n in grid.shape):
            raise InvalidInputError(
                f"pool={k} does not divide the phase-space grid's shape {grid.shape}")
        self._grid = grid
        self._core = None
        self._scaling = None
        self._trained = False
        self._meta = {"name": self._config.name}

    # -- description ---------------------------------------------------------
    @property
    def config(self):
        """The `FlowConfig`."""
        return self._config

    @property
    def grid(self):
        """The `~clustermass.phasespace.PhaseSpaceGrid` of the input histograms."""
        return self._grid

    @property
    def meta(self):
        """Provenance and training summary (a mutable dict saved with the model)."""
        return self._meta

    @property
    def trained(self):
        """Whether the flow has been trained (or loaded)."""
        return self._trained

    @property
    def name(self):
        """Name used in posteriors' ``method`` (``'flow:<name>'``)."""
        return str(self._meta.get("name", self._config.name))

    def __repr__(self):
        vals = {"config": self._config.name, "grid": self._grid, "trained": self._trained}
        args = ", ".join(f"{p}={vals[p]!r}" for p in self._params)
        return f"{type(self).__name__}({args})"

    def architecture(self):
        """The bijector blocks and their networks, as a list of dicts.

        One entry per block, from the base distribution towards log M, with the
        hidden layers (units, activation) of the network that computes its
        parameters (the shared embedding first, then the block's own layers)
        and the transformation of its outputs.

        Examples
        --------
        >>> from clustermass.flow import MassFlow
        >>> from clustermass.phasespace import PhaseSpaceGrid
        >>> MassFlow("paper", grid=PhaseSpaceGrid(n_r=5, n_v=6)).architecture()[0]
        {'kind': 'affine', 'hidden': [(512, 'tanh'), (64, 'tanh'), (512, 'tanh')],
         'outputs': {'shift': 'linear', 'scale': 'exponential'}}
        """
        core = self._ensure_core()
        out = []
        layers = {layer.name: layer for layer in core.net.layers}
        emb = [layers[f"embedding_{i}"] for i in range(len(self._config.embedding_units))]
        for b, kind in enumerate(self._config.blocks):
            own = [layers[f"block{b}_{kind}_hidden{i}"]
                   for i in range(len(self._config.block_units))]
            hidden = [(int(layer.units), layer.activation.__name__) for layer in emb + own]
            if kind == "affine":
                outputs = {"shift": "linear", "scale": "exponential"}
            else:
                outputs = {"bins": self._config.spline_bins,
                           "range": [-self._config.spline_bound, self._config.spline_bound]}
            out.append({"kind": kind, "hidden": hidden, "outputs": outputs})
        return out

    # -- internals -----------------------------------------------------------
    def _ensure_core(self, seed=0):
        if self._core is None:
            self._core = _Core(self._config, self._grid.size, seed, self._grid.shape)
        return self._core

    def _require_trained(self):
        if not self._trained:
            raise ModelError(
                "this MassFlow has not been trained: call fit(), or load a model with "
                "MassFlow.load(directory) or MassFlow.pretrained(kind)"
            )

    def _batch(self, histograms):
        return _as_batch(histograms, self._grid)

    # -- training ------------------------------------------------------------
    def fit(self, histograms, log_mass, *, groups=None, validation_fraction=0.2,
            max_updates=None, batch_size=None, seed=0, checkpoint_dir=None, progress=None,
            augment_thin=None):
        """Train the flow by maximum likelihood on (histogram, log mass) pairs.

        The network is (re)initialised from ``seed``, then trained with Adam on
        the negative log-likelihood of the training split, with early stopping
        on the validation split; the weights with the best validation loss are
        kept. Input scaling is fitted on the training split only.

        Parameters
        ----------
        histograms : array-like
            Galaxy counts, shape ``(n, n_r, n_v)`` or ``(n, n_r * n_v)`` on the flow's ``grid``.
        log_mass : array-like
            ``log10[M200c / (h^-1 Msun)]`` of each cluster, shape ``(n,)``.
        groups : array-like, optional
            A group label per row (e.g. host-halo id): rows with the same label
            (lines of sight of one host) never straddle the train/validation
            split. Default: every row its own group.
        validation_fraction : float, optional
            Fraction of rows held out for early stopping (0: no validation, no
            early stopping, the last weights are kept).
        max_updates, batch_size : int, optional
            Default: the configuration's.
        seed : int, optional
            Seed of the split, initial weights, batch order and augmentation.
            The same seed and data give the same model on a CPU (no global
            TensorFlow state is touched; on a GPU, bitwise reproducibility also
            needs ``tf.config.experimental.enable_op_determinism()``).
        checkpoint_dir : str or path-like, optional
            Write checkpoints here every ``config.checkpoint_every`` updates
            (``tf.train.CheckpointManager``). If the directory holds checkpoints
            of the same run (same data, configuration and seed), training
            resumes from the last one, e.g. after an interruption, or to go on
            to a larger ``max_updates``.
        progress : bool or callable, optional
            Show a tqdm progress bar with the losses (default:
            ``clustermass.conf.show_progress``). A callable is called as
            ``progress(update, metrics)`` after each validation and no bar is
            shown.
        augment_thin : tuple of float or False, optional
            Random thinning of training histograms (see `FlowConfig`); default
            the configuration's; ``False`` turns it off. Needs integer counts.

        Returns
        -------
        history : dict
            ``update``, ``loss`` (mean training loss since the previous
            evaluation), ``val_loss`` (lists, one entry per evaluation), and
            ``best_update``, ``best_val_loss``, ``n_updates``,
            ``stopped_early``, ``resumed_from``, ``n_train``, ``n_val``.

        Raises
        ------
        InvalidInputError
            Malformed inputs.
        ModelError
            ``checkpoint_dir`` holds checkpoints of a different run, or training
            diverged before any usable weights.
        """
        cfg = self._config
        X, _ = self._batch(histograms)
        n = X.shape[0]
        y = np.asarray(log_mass, dtype=float).ravel()
        if y.shape != (n,):
            raise InvalidInputError(
                f"log_mass must have one value per histogram ({n}), got shape {np.shape(log_mass)}"
            )
        if not np.all(np.isfinite(y)):
            raise InvalidInputError("log_mass must be finite")
        g = np.arange(n) if groups is None else np.asarray(groups).ravel()
        if g.shape != (n,):
            raise InvalidInputError(f"groups must have one label per histogram ({n})")
        max_updates = cfg.max_updates if max_updates is None else int(max_updates)
        batch_size = cfg.batch_size if batch_size is None else int(batch_size)
        if max_updates < 1 or batch_size < 1:
            raise InvalidInputError("max_updates and batch_size must be positive")
        if augment_thin is None:
            augment = cfg.augment_thin
        elif augment_thin is False:
            augment = None
        else:
            augment = tuple(float(p) for p in augment_thin)
            _check_thin_range(augment)
        seed = int(seed)

        from .training import BatchSchedule, EarlyStopping, split_by_group

        train_idx, val_idx = split_by_group(g, validation_fraction, seed)
        if train_idx.size == 0:
            raise InvalidInputError("no training rows left after the validation split")
        if augment is not None and np.any(np.rint(X) != X):
            raise InvalidInputError(
                "augment_thin needs histograms of integer galaxy counts; pass "
                "augment_thin=False to train on non-integer inputs"
            )
        T = _tf()
        tf = T.tf
        self._core = None
        self._trained = False
        self._meta = {"name": self._meta.get("name", cfg.name)}
        core = self._ensure_core(seed)
        scaling = _fit_scaling(cfg, core, X[train_idx], y[train_idx])
        core.set_scaling(scaling)
        core.make_optimizer(cfg)
        best = tf.Module(name="best")
        best.weights = [tf.Variable(v, trainable=False) for v in core.net.trainable_variables]

        def snapshot():
            for b, v in zip(best.weights, core.net.trainable_variables, strict=True):
                b.assign(v)

        def restore_best():
            for b, v in zip(best.weights, core.net.trainable_variables, strict=True):
                v.assign(b)

        run_id = _run_fingerprint(X, y, g, cfg, seed, validation_fraction, batch_size,
                                  augment, self._grid)
        es = EarlyStopping(cfg.patience if val_idx.size else None)
        history = {"update": [], "loss": [], "val_loss": []}
        start = 0
        acc = [0.0, 0]  # running training loss since the last evaluation
        stopped_early = False
        ckpt = manager = None
        if checkpoint_dir is not None:
            checkpoint_dir = os.fspath(checkpoint_dir)
            os.makedirs(checkpoint_dir, exist_ok=True)
            ckpt = tf.train.Checkpoint(model=core.module, optimizer=core.optimizer, best=best)
            manager = tf.train.CheckpointManager(ckpt, checkpoint_dir, max_to_keep=3,
                                                 checkpoint_name="ckpt")
            state = _read_state(checkpoint_dir)
            if state is not None:
                if state.get("run") != run_id:
                    raise ModelError(
                        f"checkpoint directory {checkpoint_dir} holds checkpoints of a different "
                        "training run (other data, configuration, seed or options); use another "
                        "directory or delete it"
                    )
                path = os.path.join(checkpoint_dir, state["checkpoint"])
                try:
                    with _no_root_logging_setup():
                        ckpt.restore(path).assert_existing_objects_matched()
                except (tf.errors.OpError, AssertionError, ValueError) as exc:
                    raise ModelError(f"cannot restore checkpoint {path}: {exc}") from exc
                start = int(state["update"])
                history = state["history"]
                es = EarlyStopping.from_dict(state["early_stopping"])
                acc = list(state["accumulator"])
                stopped_early = bool(state["stopped_early"])
                log.info(f"resuming training from update {start} ({path})")
        resumed_from = start if start > 0 else None

        Xv, yv = X[val_idx], y[val_idx].astype(np.float32)
        schedule = BatchSchedule(train_idx.size, batch_size, seed)
        dataset = _training_batches(X, y, train_idx, schedule, start, max_updates, seed,
                                    augment)

        callback = progress if callable(progress) else None
        show = callback is None and _show_progress(progress)
        from tqdm.auto import tqdm

        bar = tqdm(total=max_updates, initial=start, disable=not show, desc="training flow",
                   unit="update", leave=False)

        def save_checkpoint(update):
            if manager is None:
                return
            with _no_root_logging_setup():
                path = manager.save(checkpoint_number=update)
            from .training import write_json_atomic

            write_json_atomic({
                "run": run_id, "update": update, "checkpoint": os.path.basename(path),
                "history": history, "early_stopping": es.to_dict(), "accumulator": acc,
                "stopped_early": stopped_early, "max_updates": max_updates,
            }, os.path.join(checkpoint_dir, "state.json"))

        update = start
        try:
            if not stopped_early and start < max_updates:
                for xb, yb in dataset:
                    loss = float(core.train_step(xb, yb))
                    update += 1
                    bar.update(1)
                    if not np.isfinite(loss):
                        if es.best_update < 0:
                            raise ModelError(
                                f"training diverged (non-finite loss) at update {update} "
                                "before any usable weights; try a smaller learning rate"
                            )
                        warn_user(f"training diverged (non-finite loss) at update {update}; "
                                  "stopped and kept the best weights", ClusterMassWarning)
                        stopped_early = True
                        break
                    acc[0] += loss
                    acc[1] += 1
                    last = update == max_updates
                    if update % cfg.eval_every == 0 or last:
                        train_loss = acc[0] / max(acc[1], 1)
                        acc = [0.0, 0]
                        val_loss = (self._mean_nll(core, Xv, yv) if val_idx.size else None)
                        history["update"].append(update)
                        history["loss"].append(train_loss)
                        history["val_loss"].append(val_loss)
                        if val_idx.size and es.update(update, val_loss):
                            snapshot()
                        metrics = {"loss": train_loss, "val_loss": val_loss}
                        if callback is not None:
                            callback(update, metrics)
                        bar.set_postfix({k: f"{v:.4f}" for k, v in metrics.items()
                                         if v is not None})
                        if es.should_stop(update):
                            stopped_early = True
                    if update % cfg.checkpoint_every == 0 or last or stopped_early:
                        save_checkpoint(update)
                    if stopped_early:
                        break
        finally:
            bar.close()

        if val_idx.size and es.best_update >= 0:
            restore_best()
        history.update(
            best_update=es.best_update if val_idx.size else update,
            best_val_loss=es.best_loss if val_idx.size and es.best_update >= 0 else None,
            n_updates=update,
            stopped_early=stopped_early,
            resumed_from=resumed_from,
            n_train=int(train_idx.size),
            n_val=int(val_idx.size),
        )
        self._scaling = core.get_scaling()
        self._scaling.update({k: scaling[k] for k in
                              ("global_mean", "global_std", "log_mass_range",
                               "n_galaxies_range")})
        self._trained = True
        self._meta.update(
            trained=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            seed=seed,
            augment_thin=None if augment is None else list(augment),
            validation_fraction=float(validation_fraction),
            batch_size=batch_size,
            max_updates=max_updates,
            **{k: history[k] for k in ("best_update", "best_val_loss", "n_updates",
                                       "stopped_early", "n_train", "n_val")},
        )
        log.debug(f"trained {self!r}: {update} updates, best validation loss "
                 f"{history['best_val_loss']} at update {history['best_update']}")
        return history

    @staticmethod
    def _mean_nll(core, X, y, batch=2048):
        total = 0.0
        for i in range(0, len(y), batch):
            lp = core.log_prob_pairs(X[i:i + batch], y[i:i + batch]).numpy()
            total += -float(np.sum(lp, dtype=np.float64))
        return total / len(y)

    # -- inference -----------------------------------------------------------
    def log_prob(self, log_mass, histograms):
        """Log posterior density of ``log_mass`` given each histogram (per dex).

        Parameters
        ----------
        log_mass : float or array-like
            ``log10[M200c / (h^-1 Msun)]``: one value per histogram (or one for
            all); with a single histogram, any shape.
        histograms : array-like
            Shape ``(n, n_r, n_v)`` or ``(n, n_r * n_v)``, or one histogram.

        Returns
        -------
        log_prob : `~numpy.ndarray`
            ``log p(log_mass | histogram)``, float64.
        """
        self._require_trained()
        X, single = self._batch(histograms)
        lm = np.asarray(log_mass, dtype=float)
        if not np.all(np.isfinite(lm)):
            raise InvalidInputError("log_mass must be finite")
        core = self._ensure_core()
        if single:
            out = core.log_prob_grid(X, lm.ravel().astype(np.float32)).numpy()[0]
            return out.astype(float).reshape(lm.shape)
        n = X.shape[0]
        if lm.ndim == 0:
            lm = np.full(n, float(lm))
        if lm.shape != (n,):
            raise InvalidInputError(
                f"log_mass must be a number or have one value per histogram ({n}), "
                f"got shape {lm.shape}"
            )
        out = np.empty(n)
        step = 8192
        for i in range(0, n, step):
            out[i:i + step] = core.log_prob_pairs(X[i:i + step],
                                                  lm[i:i + step].astype(np.float32)).numpy()
        return out

    def pdf_grid(self, histograms, log_mass_grid=None):
        """Posterior densities of many clusters on a grid of log masses.

        Parameters
        ----------
        histograms : array-like
            Shape ``(n, n_r, n_v)`` or ``(n, n_r * n_v)``, or one histogram.
        log_mass_grid : array-like, optional
            1-D grid of ``log10[M200c / (h^-1 Msun)]``; default
            `~clustermass.posterior.default_log_mass_grid`.

        Returns
        -------
        pdf : `~numpy.ndarray`
            Shape ``(n, n_grid)``: density per dex of each cluster at each grid
            point (rows integrate to ~1 when the grid covers the posterior).
        """
        self._require_trained()
        if log_mass_grid is None:
            from .posterior import default_log_mass_grid

            log_mass_grid = default_log_mass_grid()
        x = np.asarray(log_mass_grid, dtype=float)
        if x.ndim != 1 or x.size < 1 or not np.all(np.isfinite(x)):
            raise InvalidInputError("log_mass_grid must be a finite 1-D array")
        X, _ = self._batch(histograms)
        core = self._ensure_core()
        xg = x.astype(np.float32)
        # Bound the size of the (n_grid, batch, bins) intermediate arrays.
        per = 4_000_000 if self._config.gaussian else 1_000_000
        step = int(max(1, min(8192, per // max(x.size, 1))))
        out = np.empty((X.shape[0], x.size))
        for i in range(0, X.shape[0], step):
            out[i:i + step] = np.exp(core.log_prob_grid(X[i:i + step], xg).numpy())
        return out

    def sample(self, histograms, n, *, seed=None):
        """Draw log masses from each cluster's posterior.

        Parameters
        ----------
        histograms : array-like
            Shape ``(n_clusters, n_r, n_v)`` or ``(n_clusters, n_r * n_v)``, or one
            histogram.
        n : int
            Samples per cluster.
        seed : int, optional
            Seed (stateless sampling: the same seed gives the same samples).

        Returns
        -------
        samples : `~numpy.ndarray`
            Shape ``(n_clusters, n)``, or ``(n,)`` for one histogram.
        """
        self._require_trained()
        if int(n) != n or n < 1:
            raise InvalidInputError(f"n must be a positive integer, got {n!r}")
        X, single = self._batch(histograms)
        if seed is None:
            seed = int(np.random.default_rng().integers(2**31 - 1))
        core = self._ensure_core()
        s = np.asarray([int(seed) % (2**31 - 1), 0], dtype=np.int32)
        out = core.sample(X, np.int32(n), s).numpy().astype(float)
        return out[0] if single else out

    def posteriors(self, histograms, *, log_mass_grid=None, prior="flat", redshift=0.117):
        """One `~clustermass.posterior.MassPosterior` per histogram.

        Parameters
        ----------
        histograms : array-like
            Galaxy counts on the flow's grid, one histogram per cluster.
        log_mass_grid : array-like, optional
            Where to tabulate the densities (default
            `~clustermass.posterior.default_log_mass_grid`).
        prior : {'flat', 'mass_function'}, optional
            ``'flat'`` (default): the flow's own training prior, flat in log M
            over the training range, as in Kodi Ramanah et al. (2020).
            ``'mass_function'``: re-weighted by the halo mass function at
            ``redshift`` (`clustermass.priors.reweight`), the calibrated
            choice for clusters drawn from the cosmic population.
        redshift : float, optional
            Redshift of the mass-function prior.

        Warns with `~clustermass.exceptions.ModelExtrapolationWarning` when a
        histogram holds more or fewer galaxies than any training cluster, or
        its posterior mean lies outside the training range of masses.
        """
        from .posterior import MassPosterior, default_log_mass_grid
        from .priors import check_prior, reweight

        check_prior(prior)
        x = default_log_mass_grid() if log_mass_grid is None else np.asarray(log_mass_grid)
        X, _ = self._batch(histograms)
        pdfs = self.pdf_grid(X, x)
        try:
            pdfs = reweight(pdfs, x, prior, redshift=redshift)
        except InvalidInputError as exc:  # the only failure left: nothing survives the prior
            raise ModelError(
                "the flow's posterior vanishes under the mass-function prior: the input is far"
                " outside what the model was trained on"
            ) from exc
        out = []
        meta = {"model": self.name, "model_config": self._config.name,
                "model_format_version": FORMAT_VERSION,
                "model_trained": self._meta.get("trained"), "prior": prior}
        n_rng = (self._scaling or {}).get("n_galaxies_range")
        m_rng = (self._scaling or {}).get("log_mass_range")
        for h, p in zip(X, pdfs, strict=True):
            try:
                post = MassPosterior(x, p, method=f"flow:{self.name}", meta=dict(meta))
            except InvalidInputError as exc:
                raise ModelError(
                    f"the flow's posterior vanishes on the log-mass grid [{x[0]}, {x[-1]}]: "
                    "the input is far outside what the model was trained on"
                ) from exc
            n_gal = float(h.sum())
            if n_rng and not (n_rng[0] <= n_gal <= n_rng[1]):
                warn_user(f"{n_gal:.0f} galaxies in the phase-space window, outside the "
                          f"training range [{n_rng[0]:.0f}, {n_rng[1]:.0f}]",
                          ModelExtrapolationWarning, stacklevel=2)
            if m_rng and not (m_rng[0] <= post.mean <= m_rng[1]):
                warn_user(f"posterior mean log M = {post.mean:.2f} outside the training "
                          f"range [{m_rng[0]:.2f}, {m_rng[1]:.2f}]",
                          ModelExtrapolationWarning, stacklevel=2)
            out.append(post)
        return out

    def posterior(self, histogram, *, log_mass_grid=None, prior="flat", redshift=0.117):
        """The `~clustermass.posterior.MassPosterior` of one cluster's histogram.

        Parameters are those of `posteriors`.
        """
        X, single = self._batch(histogram)
        if X.shape[0] != 1:
            raise InvalidInputError(
                f"posterior() takes one histogram; got {X.shape[0]} (use posteriors())"
            )
        return self.posteriors(X, log_mass_grid=log_mass_grid, prior=prior,
                               redshift=redshift)[0]

    # -- persistence ---------------------------------------------------------
    def save(self, directory):
        """Write the model to a directory (replaced atomically if it exists).

        The directory holds ``weights.npz`` (the network's weights and the
        input scaling, plain arrays, no pickle) and ``model.json`` (format
        version, configuration, grid, scaling summary, training metadata,
        package versions, and SHA-256 checksums of the weight file and of the
        metadata).

        Parameters
        ----------
        directory : str or path-like
        """
        self._require_trained()
        core = self._ensure_core()
        directory = os.path.abspath(os.fspath(directory))
        parent = os.path.dirname(directory)
        os.makedirs(parent, exist_ok=True)
        tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(directory)}.tmp", dir=parent)
        try:
            named = core.weight_arrays()
            arrays = {f"w{i:03d}": a for i, (_, a) in enumerate(named)}
            s = core.get_scaling()
            arrays.update(x_mean=s["x_mean"], x_scale=s["x_scale"])
            wpath = os.path.join(tmp, _WEIGHTS_FILE)
            with open(wpath, "wb") as f:
                np.savez(f, **arrays)
                f.flush()
                os.fsync(f.fileno())
            scaling = {k: v for k, v in self._scaling.items() if k not in ("x_mean", "x_scale")}
            doc = {
                "format": _FORMAT_NAME,
                "format_version": FORMAT_VERSION,
                "config": self._config.to_dict(),
                "grid": self._grid.to_dict(),
                "scaling": scaling,
                "meta": self._meta,
                "versions": _versions(),
                "saved": datetime.datetime.now(datetime.UTC).isoformat(
                    timespec="seconds"),
                "weights": {
                    "file": _WEIGHTS_FILE,
                    "sha256": file_sha256(wpath),
                    "names": [name for name, _ in named],
                    "shapes": [list(a.shape) for _, a in named],
                },
            }
            doc = json.loads(json.dumps(doc, default=_json_default))
            doc["metadata_sha256"] = _metadata_hash(doc)
            with open(os.path.join(tmp, _MODEL_FILE), "w") as f:
                json.dump(doc, f, indent=2, sort_keys=True)
                f.flush()
                os.fsync(f.fileno())
            _replace_dir(tmp, directory)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        log.debug(f"saved {self!r} to {directory}")

    @classmethod
    def load(cls, directory, *, grid=None):
        """Read a model written by `MassFlow.save`.

        Parameters
        ----------
        directory : str or path-like
        grid : `~clustermass.phasespace.PhaseSpaceGrid`, optional
            If given, the grid the caller's histograms use; it must equal the
            model's.

        Raises
        ------
        ModelError
            Missing, unreadable or corrupt files (checksum mismatch).
        IncompatibleModelError
            Unknown format version, or a ``grid`` different from the model's.
        """
        directory = os.fspath(directory)
        mpath = os.path.join(directory, _MODEL_FILE)
        if not os.path.isfile(mpath):
            raise ModelError(f"no model in {directory}: {_MODEL_FILE} is missing")
        try:
            with open(mpath) as f:
                doc = json.load(f)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ModelError(f"cannot read {mpath}: not a valid model file ({exc})") from exc
        if not isinstance(doc, dict) or doc.get("format") != _FORMAT_NAME:
            raise ModelError(f"{mpath} is not a clustermass MassFlow model file")
        version = doc.get("format_version")
        if version != FORMAT_VERSION:
            raise IncompatibleModelError(
                f"{mpath} has model format version {version!r}; this version of clustermass "
                f"reads version {FORMAT_VERSION}. Use a matching clustermass or retrain the model"
            )
        if doc.get("metadata_sha256") != _metadata_hash(doc):
            raise ModelError(
                f"{mpath} was modified after it was saved (metadata checksum mismatch); "
                "the model cannot be trusted"
            )
        try:
            config = FlowConfig.from_dict(doc["config"])
            model_grid = PhaseSpaceGrid.from_dict(doc["grid"])
            winfo = doc["weights"]
            scaling = dict(doc["scaling"])
        except (KeyError, TypeError, InvalidInputError) as exc:
            raise ModelError(f"{mpath} is incomplete or malformed: {exc}") from exc
        if grid is not None and grid != model_grid:
            raise IncompatibleModelError(
                f"the model in {directory} was trained on {model_grid!r}, not on {grid!r}; "
                "histogram the data on the model's grid (MassFlow.grid)"
            )
        wpath = os.path.join(directory, winfo.get("file", _WEIGHTS_FILE))
        if not os.path.isfile(wpath):
            raise ModelError(f"the weight file {wpath} is missing")
        if file_sha256(wpath) != winfo.get("sha256"):
            raise ModelError(
                f"the weight file {wpath} is corrupt or was modified "
                "(its SHA-256 does not match model.json)"
            )
        try:
            with np.load(wpath, allow_pickle=False) as npz:
                n_w = len(winfo["names"])
                arrays = [npz[f"w{i:03d}"] for i in range(n_w)]
                scaling["x_mean"] = npz["x_mean"]
                scaling["x_scale"] = npz["x_scale"]
        except Exception as exc:  # zipfile/ValueError/KeyError/OSError: all mean corrupt
            raise ModelError(f"cannot read the weight file {wpath}: {exc}") from exc
        flow = cls(config, grid=model_grid)
        core = flow._ensure_core()
        core.set_weight_arrays(arrays)
        try:
            core.set_scaling(scaling)
        except (KeyError, ValueError, TypeError) as exc:
            raise ModelError(f"{mpath}: bad input scaling ({exc})") from exc
        flow._scaling = scaling
        flow._trained = True
        flow._meta = dict(doc.get("meta") or {})
        flow._meta.setdefault("name", config.name)
        flow._meta["path"] = os.path.abspath(directory)
        flow._meta["versions"] = doc.get("versions", {})
        return flow

    @classmethod
    def pretrained(cls, kind="contaminated"):
        """A model shipped with clustermass.

        Parameters
        ----------
        kind : {'contaminated', 'pure'}
            Trained on the contaminated catalogue (every galaxy in the
            cylinder; use this for real clusters) or the pure one (members
            only).

        Raises
        ------
        InvalidInputError
            Unknown ``kind``.
        ModelError
            The model is not installed.
        """
        key = str(kind).lower()
        if key not in PRETRAINED_KINDS:
            raise InvalidInputError(
                f"unknown pretrained model {kind!r}; available: {', '.join(PRETRAINED_KINDS)}"
            )
        from importlib import resources

        path = _pretrained_dir(key)
        if not (path / _MODEL_FILE).is_file():
            raise ModelError(
                f"the '{key}' model is not installed (expected in {path}). Train one with "
                f"`clustermass train MOCKS --config default --output DIR` on a {key} mock "
                "catalogue and load it with MassFlow.load(DIR)"
            )
        with resources.as_file(path) as p:
            flow = cls.load(p)
        flow._meta["name"] = key
        return flow


@contextlib.contextmanager
def _no_root_logging_setup():
    """Keep absl (used by TF's checkpointing) from calling ``logging.basicConfig()``.

    ``absl.logging.log`` configures the root logger when it has no handlers,
    after which every clustermass message is printed twice. A temporary
    `logging.NullHandler` on the root logger prevents that; it is removed again.
    """
    import logging

    root = logging.getLogger()
    guard = None
    if not root.handlers:
        guard = logging.NullHandler()
        root.addHandler(guard)
    try:
        yield
    finally:
        if guard is not None:
            root.removeHandler(guard)


def _pretrained_dir(kind):
    """Where the shipped model of ``kind`` lives (``clustermass/data/models/<kind>/``)."""
    from importlib import resources

    return resources.files("clustermass") / "data" / "models" / kind


def _replace_dir(src, dst):
    """Move directory ``src`` to ``dst``, replacing ``dst`` (atomic when it did not exist)."""
    if not os.path.exists(dst):
        os.replace(src, dst)
        return
    old = tempfile.mkdtemp(prefix=f".{os.path.basename(dst)}.old", dir=os.path.dirname(dst))
    os.rmdir(old)
    os.replace(dst, old)
    try:
        os.replace(src, dst)
    except BaseException:
        os.replace(old, dst)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _training_batches(X, y, train_idx, schedule, start, stop, seed, augment, chunk=1000):
    """Training batches for updates ``start .. stop - 1``, through tf.data pipelines.

    Batch membership comes from ``schedule`` (numpy, reproducible per update);
    each chunk of updates is a ``tf.data`` pipeline whose map gathers the rows
    and applies the optional binomial thinning (stateless, seeded by
    ``(seed, update)``), with prefetching. An update's batch is therefore the
    same whether or not the run was resumed.

    (``tf.data.Dataset.from_generator`` is avoided on purpose: its kernel sets
    glibc's ``M_TRIM_THRESHOLD`` for the whole process, after which every large
    temporary tensor is mapped and unmapped afresh, which tripled the cost of
    an update on CPU.)
    """
    tf = _tf().tf
    Xc = tf.constant(X)
    yc = tf.constant(np.asarray(y, np.float32))
    bs = schedule.batch_size

    def load(rows, k):
        xb = tf.gather(Xc, rows)
        yb = tf.gather(yc, rows)
        if augment is not None:
            pair = tf.stack([tf.constant(seed, tf.int64), k])
            s_p, s_b = tf.unstack(tf.random.experimental.stateless_split(pair, num=2))
            p = tf.random.stateless_uniform([bs, 1], seed=s_p, minval=augment[0],
                                            maxval=augment[1])
            # Keeping each galaxy with probability p: Binomial(n, p) per bin.
            xb = tf.random.stateless_binomial(tf.shape(xb), seed=s_b, counts=xb, probs=p,
                                              output_dtype=tf.float32)
        return xb, yb

    for k0 in range(start, stop, chunk):
        ks = np.arange(k0, min(k0 + chunk, stop), dtype=np.int64)
        rows = np.stack([train_idx[schedule.indices(k)] for k in ks]).astype(np.int64)
        ds = tf.data.Dataset.from_tensor_slices((rows, ks)).map(load).prefetch(2)
        yield from ds


def _read_state(checkpoint_dir):
    path = os.path.join(checkpoint_dir, "state.json")
    if not os.path.isfile(path):
        return None
    try:
        with open(path) as f:
            state = json.load(f)
        state["checkpoint"], state["update"], state["history"]  # noqa: B018
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ModelError(f"cannot resume: {path} is unreadable ({exc})") from exc
    return state


def _run_fingerprint(X, y, groups, config, seed, validation_fraction, batch_size, augment,
                     grid):
    from .training import fingerprint

    cfg = config.to_dict()
    cfg.pop("max_updates", None)
    g = np.unique(np.asarray(groups), return_inverse=True)[1]
    return fingerprint(X, np.asarray(y, np.float64), g, extra={
        "config": cfg, "seed": seed, "validation_fraction": float(validation_fraction),
        "batch_size": batch_size, "augment": augment, "grid": grid.to_dict(),
        "format": FORMAT_VERSION,
    })
