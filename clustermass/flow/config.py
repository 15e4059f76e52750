"""Configuration of the conditional flows: `FlowConfig` and the named `PRESETS`.

A `FlowConfig` fixes the architecture of a `~clustermass.flow.MassFlow`
(bijector blocks, network sizes), the scaling of its input histograms and its
training settings. It is plain Python (no TensorFlow) and is saved with every
model, so that a model file says how it was built and trained.

``NAME=VALUE`` overrides of its fields (``clustermass train --set``) are read
by the package's one override parser, re-exported here as
`parse_config_override`.
"""

import dataclasses

from .._parsing import parse_override as parse_config_override
from ..exceptions import InvalidInputError

__all__ = ["FlowConfig", "PRESETS", "parse_config_override", "resolve_config",
           "check_thin_range"]

#: Input transforms of `FlowConfig.normalize`.
NORMALIZE = ("fraction", "log1p", "counts")
#: Input standardisations of `FlowConfig.standardize`.
STANDARDIZE = ("global", "pixel")
#: Bijector blocks of `FlowConfig.blocks`.
BLOCKS = ("affine", "spline")
#: Activations of `FlowConfig.activation`.
ACTIVATIONS = ("tanh", "relu", "elu", "gelu", "swish", "sigmoid")
# Smallest spline bin width and height, in standardised log M (the network module
# uses the same floor).
MIN_SPLINE_BIN = 1e-2


@dataclasses.dataclass(frozen=True)
class FlowConfig:
    """Architecture, input scaling and training settings of a `~clustermass.flow.MassFlow`.

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
    condition_redshift : bool
        Also give the network the cluster's redshift (standardised on its own),
        so that the flow conditions on it rather than marginalising over it.
        Every call that reads a flow with it (``fit``, ``pdf_grid``,
        ``posteriors``, ...) then needs the redshift of each cluster, which every
        user knows. At fixed M200c, r200c and v200c scale with the critical
        density at the cluster's redshift, ~E(z)**(-2/3) and ~E(z)**(1/3)
        (Navarro, Frenk & White 1997); a flow that reads only the phase space
        of members confined to r200c sees that as mass.
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
    ``default`` preset's 2 x 2 pooling was chosen with
    ``scripts/compare_configs.py``; the measurements are tabulated in the
    validation chapter of the documentation. Its training settings (batches
    of 256, Adam at 3e-4 halving every 4000 updates, up to 30,000 updates
    with patience 3000, thinning over only 0.85-1 because the training
    catalogues already vary the survey depth as a nuisance parameter) reach
    a lower held-out loss on the 300,000-cluster training catalogues than
    KR20's batches of 100 at a constant 1e-4, which stopped early while the
    68 % intervals were still ~8 points too wide (validation chapter).

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
    condition_redshift: bool = False
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
            if self.condition_redshift not in (True, False):
                raise ValueError("condition_redshift must be true or false, got"
                                 f" {self.condition_redshift!r}")
            fix("condition_redshift", bool(self.condition_redshift))
            if self.augment_thin is not None:
                fix("augment_thin", tuple(float(p) for p in self.augment_thin))
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"invalid FlowConfig: {exc}") from exc
        if not self.blocks or any(b not in BLOCKS for b in self.blocks):
            raise InvalidInputError(
                f"blocks must be a non-empty sequence of {BLOCKS}, got {self.blocks!r}"
            )
        if any(u < 1 for u in self.embedding_units + self.block_units):
            raise InvalidInputError("layer sizes must be positive integers")
        if self.activation not in ACTIVATIONS:
            raise InvalidInputError(
                f"activation must be one of {ACTIVATIONS}, got {self.activation!r}"
            )
        if self.normalize not in NORMALIZE:
            raise InvalidInputError(
                f"normalize must be one of {NORMALIZE}, got {self.normalize!r}"
            )
        if self.standardize not in STANDARDIZE:
            raise InvalidInputError(
                f"standardize must be one of {STANDARDIZE}, got {self.standardize!r}"
            )
        if not (0 <= float(self.smooth) <= 10):
            raise InvalidInputError(f"smooth must be in [0, 10] bins, got {self.smooth}")
        if int(self.pool) < 1:
            raise InvalidInputError(f"pool must be a positive integer, got {self.pool}")
        if int(self.spline_bins) < 2:
            raise InvalidInputError(f"spline_bins must be >= 2, got {self.spline_bins}")
        if not float(self.spline_bound) > MIN_SPLINE_BIN * int(self.spline_bins):
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
        check_thin_range(self.augment_thin)

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



def check_thin_range(r):
    """Raise `~clustermass.exceptions.InvalidInputError` unless ``r`` is a thinning range.

    ``r`` is `None` (no thinning) or a pair ``(p_min, p_max)`` with
    ``0 < p_min <= p_max <= 1`` (see `FlowConfig.augment_thin`).
    """
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
        augment_thin=(0.85, 1.0),
        learning_rate=3e-4,
        lr_half_life=4000,
        batch_size=256,
        max_updates=30000,
        patience=3000,
        eval_every=100,
    ),
}


def resolve_config(config):
    """A `FlowConfig` from a preset name, a `FlowConfig.to_dict` dict or a `FlowConfig`."""
    if isinstance(config, FlowConfig):
        return config
    if isinstance(config, str):
        return FlowConfig.preset(config)
    if isinstance(config, dict):
        return FlowConfig.from_dict(config)
    raise InvalidInputError(
        f"config must be 'default', 'paper' or a FlowConfig, got {config!r}"
    )
