"""The conditional flow as an estimator: `MassFlow`.

`MassFlow` ties together a configuration (`~clustermass.flow.FlowConfig`), a
phase-space grid, the network (`clustermass.flow._network`, the only module
that touches TensorFlow), the trainer (`clustermass.flow.fit`) and the model
file (`clustermass.flow._modelfile`). It answers in numpy arrays and
`~clustermass.posterior.MassPosterior` objects.

Models read from disk are kept in memory by the signature of their files
(`MassFlow.clear_cache`), so that a loop of ``ClusterMass.infer`` calls reads,
builds and traces the model once.

(About 670 lines: one class, whose public methods each carry a numpydoc
docstring with examples; the TensorFlow side, the trainer and the file format
already live in their own modules.)
"""

import copy
import datetime
import os
import sys
from importlib import resources

import numpy as np

from .._config import __version__
from .._units import check_redshift
from ..exceptions import (
    InvalidInputError,
    ModelError,
    ModelExtrapolationWarning,
    warn_user,
)
from ..logger import log
from ..phasespace import PhaseSpaceGrid
from ..posterior import MassPosterior, default_log_mass_grid
from ..priors import (
    TrainingUniverse,
    catalogue_redshift_range,
    catalogue_support,
    check_prior,
    reweight,
)
from ._modelfile import (
    FORMAT_VERSION,
    MODEL_FILE,
    ModelCache,
    check_grid,
    read_model,
    write_model,
)
from ._network import Network, backend_versions
from .config import resolve_config
from .fit import Trainer

__all__ = ["MassFlow", "PRETRAINED_KINDS", "pretrained_path"]

__doctest_requires__ = {"*": ["tensorflow_probability"]}

#: Kinds of shipped models, in ``clustermass/data/models/<kind>/``.
PRETRAINED_KINDS = ("contaminated", "pure")

# Models read by `MassFlow.load`, by the signature of their files: reading an
# unchanged directory again reuses the read model and its network, whose
# compiled functions are then traced once per session, not once per call.
_LOADED = ModelCache(maxsize=8)


def pretrained_path(kind):
    """Where the shipped model of ``kind`` lives (``clustermass/data/models/<kind>/``).

    A `importlib.resources` traversable; `MassFlow.pretrained` loads the
    model from it.
    """
    return resources.files("clustermass") / "data" / "models" / kind


def as_batch(histograms, grid, *, name="histograms"):
    """Check histograms against ``grid``; return (float32 array (n, n_bins), was_single)."""
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


class MassFlow:
    """Conditional normalizing flow for p(log10 M200c | phase-space histogram).

    Parameters
    ----------
    config : {'default', 'paper'} or `~clustermass.flow.FlowConfig`, optional
        Architecture and training settings (see `~clustermass.flow.FlowConfig`
        and the `clustermass.flow` package docstring).
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
        self._config = resolve_config(config)
        if grid is None:
            grid = PhaseSpaceGrid()
        if not isinstance(grid, PhaseSpaceGrid):
            raise InvalidInputError(f"grid must be a PhaseSpaceGrid, got {grid!r}")
        k = int(self._config.pool)
        if any(n % k for n in grid.shape):
            raise InvalidInputError(
                f"pool={k} does not divide the phase-space grid's shape {grid.shape}")
        self._grid = grid
        self._network = None
        self._scaling = None
        self._trained = False
        self._meta = {"name": self._config.name}

    # -- description ---------------------------------------------------------
    @property
    def config(self):
        """The `~clustermass.flow.FlowConfig`."""
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

    @property
    def training_universe(self):
        """The universe the model was trained in (a `~clustermass.priors.TrainingUniverse`).

        Read from the metadata of the training catalogue saved with the model
        (redshift, cosmology, mass function); missing entries are those of
        `~clustermass.priors.MDPL2_UNIVERSE`. The mass-function prior of
        `posteriors` uses it.
        """
        return TrainingUniverse.from_catalogue_meta(self._catalogue_meta())

    def _catalogue_meta(self):
        cat = self._meta.get("training_catalogue")
        meta = cat.get("meta") if isinstance(cat, dict) else None
        return meta if isinstance(meta, dict) else {}

    @property
    def training_support(self):
        """``(lo, hi)``: the log10[M200c / (h^-1 Msun)] range of the training set, or `None`.

        Read from the training catalogue's universe (``log_mass_min``,
        ``log_mass_max``) saved with the model
        (`~clustermass.priors.catalogue_support`); `None` when unknown (e.g. a
        flow trained on arrays with `fit`). The flow was trained on no mass
        outside it, so its posteriors (`posteriors`) are zero there.

        Examples
        --------
        >>> from clustermass.flow import MassFlow
        >>> MassFlow.pretrained("contaminated").training_support
        (12.9, 15.6)
        """
        return catalogue_support(self._catalogue_meta())

    @property
    def training_redshift_range(self):
        """``(z_min, z_max)`` of the training clusters, or `None` when unknown.

        From the training catalogue's metadata
        (`~clustermass.priors.catalogue_redshift_range`): ``(z, z)`` for a
        catalogue at one redshift ``z`` (the shipped pure model: ``(0.117, 0.117)``;
        the contaminated one, trained across redshifts: ``(0.01, 0.3)``).
        """
        return catalogue_redshift_range(self._catalogue_meta())

    @property
    def n_galaxies_range(self):
        """``(n_min, n_max)``: the numbers of galaxies in the window of the training
        clusters, or `None` for an untrained flow (inputs outside it are extrapolation).
        """
        n_rng = (self._scaling or {}).get("n_galaxies_range")
        return None if n_rng is None else (float(n_rng[0]), float(n_rng[1]))

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
        return self._ensure_network().architecture()

    # -- internals -----------------------------------------------------------
    def _ensure_network(self, seed=0):
        if self._network is None:
            self._network = Network(self._config, self._grid.size, seed, self._grid.shape)
        return self._network

    def _require_trained(self):
        if not self._trained:
            raise ModelError(
                "this MassFlow has not been trained: call fit(), or load a model with "
                "MassFlow.load(directory) or MassFlow.pretrained(kind)"
            )
    def _batch(self, histograms):
        return as_batch(histograms, self._grid)

    @property
    def conditions_on_redshift(self):
        """Whether the network reads the cluster redshift (``FlowConfig.condition_redshift``).

        Such a flow needs ``redshift=`` (one value, or one per cluster) in
        `fit`, `log_prob`, `pdf_grid`, `sample` and `posteriors`.
        """
        return bool(self._config.condition_redshift)

    def _redshifts(self, redshift, n):
        """``redshift`` as a float array of ``n`` values, or None when not given."""
        if redshift is None:
            return None
        try:
            z = check_redshift(redshift, "redshift")
        except InvalidInputError as exc:
            raise InvalidInputError(f"redshift must be finite and positive: {exc}") from exc
        if z.ndim == 0:
            z = np.full(n, float(z))
        z = z.ravel()
        if z.shape != (n,):
            raise InvalidInputError(f"redshift must be one number or one per cluster ({n}),"
                                    f" got {z.size} values")
        if np.any(z <= 0):
            raise InvalidInputError("redshift must be finite and positive")
        return z

    def _net_input(self, X, redshift):
        """The network's input rows: the histograms, then the redshift if the flow reads it."""
        if not self.conditions_on_redshift:
            return X
        z = self._redshifts(redshift, X.shape[0])
        if z is None:
            raise InvalidInputError(
                f"the flow {self.name!r} conditions on the cluster redshift"
                " (FlowConfig.condition_redshift): pass redshift= (one value or one per"
                " cluster)")
        return np.concatenate([X, z[:, None]], axis=1).astype(np.float32)

    # -- training ------------------------------------------------------------
    def fit(self, histograms, log_mass, *, groups=None, validation_fraction=0.2,
            max_updates=None, batch_size=None, seed=0, checkpoint_dir=None, progress=None,
            augment_thin=None, redshift=None):
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
            Random thinning of training histograms (see
            `~clustermass.flow.FlowConfig`); default the configuration's;
            ``False`` turns it off. Needs integer counts.
        redshift : float or array-like, optional
            Cluster redshift(s), one value or one per histogram; required (and
            only read) when the configuration conditions on the redshift
            (``FlowConfig.condition_redshift``).

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
        X, _ = self._batch(histograms)
        X = self._net_input(X, redshift)
        trainer = Trainer(self._config, self._grid, validation_fraction=validation_fraction,
                          max_updates=max_updates, batch_size=batch_size, seed=seed,
                          checkpoint_dir=checkpoint_dir, progress=progress,
                          augment_thin=augment_thin)
        trainer.prepare_data(X, log_mass, groups)
        self._network = None
        self._trained = False
        self._meta = {"name": self._meta.get("name", self._config.name)}
        history = trainer.train(self._ensure_network(trainer.seed))
        self._scaling = trainer.scaling
        self._trained = True
        self._meta.update(
            trained=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            **trainer.summary(),
        )
        log.debug(f"trained {self!r}: {history['n_updates']} updates, best validation loss "
                  f"{history['best_val_loss']} at update {history['best_update']}")
        return history

    # -- inference -----------------------------------------------------------
    def log_prob(self, log_mass, histograms, *, redshift=None):
        """Log posterior density of ``log_mass`` given each histogram (per dex).

        Parameters
        ----------
        log_mass : float or array-like
            ``log10[M200c / (h^-1 Msun)]``: one value per histogram (or one for
            all); with a single histogram, any shape.
        histograms : array-like
            Shape ``(n, n_r, n_v)`` or ``(n, n_r * n_v)``, or one histogram.
        redshift : float or array-like, optional
            Cluster redshift(s), one value or one per histogram; required when
            the flow conditions on the redshift (`conditions_on_redshift`).

        Returns
        -------
        log_prob : `~numpy.ndarray`
            ``log p(log_mass | histogram)``, float64.
        """
        self._require_trained()
        X, single = self._batch(histograms)
        X = self._net_input(X, redshift)
        lm = np.asarray(log_mass, dtype=float)
        if not np.all(np.isfinite(lm)):
            raise InvalidInputError("log_mass must be finite")
        net = self._ensure_network()
        if single:
            out = net.log_prob_grid(X, lm.ravel().astype(np.float32))[0]
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
            out[i:i + step] = net.log_prob_pairs(X[i:i + step],
                                                 lm[i:i + step].astype(np.float32))
        return out

    def pdf_grid(self, histograms, log_mass_grid=None, *, redshift=None):
        """Posterior densities of many clusters on a grid of log masses.

        Parameters
        ----------
        histograms : array-like
            Shape ``(n, n_r, n_v)`` or ``(n, n_r * n_v)``, or one histogram.
        log_mass_grid : array-like, optional
            1-D grid of ``log10[M200c / (h^-1 Msun)]``; default
            `~clustermass.posterior.default_log_mass_grid`.
        redshift : float or array-like, optional
            Cluster redshift(s), one value or one per histogram; required when
            the flow conditions on the redshift (`conditions_on_redshift`).

        Returns
        -------
        pdf : `~numpy.ndarray`
            Shape ``(n, n_grid)``: density per dex of each cluster at each grid
            point (rows integrate to ~1 when the grid covers the posterior).
        """
        self._require_trained()
        if log_mass_grid is None:
            log_mass_grid = default_log_mass_grid()
        x = np.asarray(log_mass_grid, dtype=float)
        if x.ndim != 1 or x.size < 1 or not np.all(np.isfinite(x)):
            raise InvalidInputError("log_mass_grid must be a finite 1-D array")
        X, _ = self._batch(histograms)
        X = self._net_input(X, redshift)
        net = self._ensure_network()
        xg = x.astype(np.float32)
        # Bound the size of the (n_grid, batch, bins) intermediate arrays.
        per = 4_000_000 if self._config.gaussian else 1_000_000
        step = int(max(1, min(8192, per // max(x.size, 1))))
        out = np.empty((X.shape[0], x.size))
        for i in range(0, X.shape[0], step):
            out[i:i + step] = np.exp(net.log_prob_grid(X[i:i + step], xg))
        return out

    def sample(self, histograms, n, *, seed=None, redshift=None):
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
        redshift : float or array-like, optional
            Cluster redshift(s), one value or one per histogram; required when
            the flow conditions on the redshift (`conditions_on_redshift`).

        Returns
        -------
        samples : `~numpy.ndarray`
            Shape ``(n_clusters, n)``, or ``(n,)`` for one histogram.
        """
        self._require_trained()
        if int(n) != n or n < 1:
            raise InvalidInputError(f"n must be a positive integer, got {n!r}")
        X, single = self._batch(histograms)
        X = self._net_input(X, redshift)
        if seed is None:
            seed = int(np.random.default_rng().integers(2**31 - 1))
        net = self._ensure_network()
        s = np.asarray([int(seed) % (2**31 - 1), 0], dtype=np.int32)
        out = net.sample(X, n, s).astype(float)
        return out[0] if single else out


    def posteriors(self, histograms, *, log_mass_grid=None, prior="flat", redshift=None):
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
            ``'mass_function'``: re-weighted by the halo mass function of the
            universe the model was trained in (`training_universe`: its
            cosmology, mass-function model and redshift;
            `clustermass.priors.reweight`), the calibrated choice for clusters
            drawn from the cosmic population.
        redshift : float or array-like, optional
            Cluster redshift(s), one value or one per histogram: the redshift
            of the mass-function prior (default the training universe's,
            ``training_universe.redshift``), and an input of a flow that
            conditions on it (`conditions_on_redshift`; then required).

        Notes
        -----
        Under either prior the density is zero outside the training range of
        masses (`training_support`, when known) and renormalised: the flow
        saw no cluster there, and its density beyond the range is an
        extrapolation. Each posterior's ``meta["support"]`` is that range
        (or `None`), so that `~clustermass.posterior.MassPosterior.at_support_edge`
        can tell a posterior cut off by it.

        Warns with `~clustermass.exceptions.ModelExtrapolationWarning` when a
        histogram holds more or fewer galaxies than any training cluster, or
        its posterior mean lies outside the training range of masses.
        """
        check_prior(prior)
        x = default_log_mass_grid() if log_mass_grid is None else np.asarray(log_mass_grid)
        X, _ = self._batch(histograms)
        z = self._redshifts(redshift, X.shape[0])
        pdfs = self.pdf_grid(X, x, redshift=z)
        support = self.training_support
        try:
            pdfs = reweight(pdfs, x, prior, redshift=z, universe=self.training_universe,
                            support=support)
        except InvalidInputError as exc:  # the only failure left: nothing survives the prior
            where = "" if support is None else (
                f" inside the training range of masses [{support[0]:.2f}, {support[1]:.2f}]")
            raise ModelError(
                f"the flow's posterior vanishes{where} under the {prior} prior: the input is far"
                " outside what the model was trained on"
            ) from exc
        out = []
        meta = {"model": self.name, "model_config": self._config.name,
                "model_format_version": FORMAT_VERSION,
                "model_trained": self._meta.get("trained"), "prior": prior,
                "support": support}
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

    def posterior(self, histogram, *, log_mass_grid=None, prior="flat", redshift=None):
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
        net = self._ensure_network()
        s = net.get_scaling()
        versions = {"clustermass": __version__, "numpy": np.__version__,
                    "python": sys.version.split()[0], **backend_versions()}
        write_model(directory, weights=net.weight_arrays(),
                    scaling_arrays={"x_mean": s["x_mean"], "x_scale": s["x_scale"]}, doc={
                        "config": self._config.to_dict(),
                        "grid": self._grid.to_dict(),
                        "scaling": {k: v for k, v in self._scaling.items()
                                    if k not in ("x_mean", "x_scale")},
                        "meta": self._meta,
                        "versions": versions,
                        "saved": datetime.datetime.now(datetime.UTC).isoformat(
                            timespec="seconds"),
                    })
        log.debug(f"saved {self!r} to {os.path.abspath(os.fspath(directory))}")

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
        key, hit = _LOADED.lookup(directory)
        if hit is None:
            doc = read_model(directory, grid=grid)
            net = Network(doc.config, doc.grid.size, 0, doc.grid.shape)
            net.set_weight_arrays(doc.weights)
            try:
                net.set_scaling(doc.scaling)
            except (KeyError, ValueError, TypeError) as exc:
                raise ModelError(f"{doc.path}: bad input scaling ({exc})") from exc
            hit = (doc, net)
            _LOADED.store(key, hit)
        else:
            check_grid(hit[0].grid, grid, os.fspath(directory))
        doc, net = hit
        # A new MassFlow per call with its own metadata; the network (weights and
        # compiled functions) is shared and never changed: fit() builds a new one.
        flow = cls(doc.config, grid=doc.grid)
        flow._network = net
        flow._scaling = dict(doc.scaling)
        flow._trained = True
        flow._meta = copy.deepcopy(doc.meta)
        flow._meta.setdefault("name", doc.config.name)
        flow._meta["path"] = os.path.abspath(os.fspath(directory))
        flow._meta["versions"] = copy.deepcopy(doc.versions)
        return flow

    @staticmethod
    def clear_cache():
        """Forget the models that `load` and `pretrained` keep in memory.

        Loading a model directory reads it once per session: later calls with
        the same, unchanged files (same inode, size and modification time)
        reuse the weights and the compiled TensorFlow functions, which makes
        a warm `~clustermass.core.ClusterMass.infer` take milliseconds. Each
        call still returns a new `MassFlow` (with its own `meta`). Up to 8
        models are kept; this frees them.
        """
        _LOADED.clear()

    @classmethod
    def pretrained(cls, kind="contaminated"):
        """A model shipped with clustermass.

        Parameters
        ----------
        kind : {'contaminated', 'pure'}
            Trained on the contaminated catalogue (every galaxy in the
            cylinder; use this for real clusters) or the pure one (members
            only). `pretrained_path` says where it is installed.

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
        path = pretrained_path(key)
        if not (path / MODEL_FILE).is_file():
            raise ModelError(
                f"the '{key}' model is not installed (expected in {path}). Train one with "
                f"`clustermass train MOCKS --config default --output DIR` on a {key} mock "
                "catalogue and load it with MassFlow.load(DIR)"
            )
        with resources.as_file(path) as p:
            flow = cls.load(p)
        flow._meta["name"] = key
        return flow
