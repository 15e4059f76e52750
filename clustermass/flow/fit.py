"""Training of the conditional flows: the `Trainer` and its numpy helpers.

`Trainer` runs maximum-likelihood training of a flow's network as named steps
(`~Trainer.prepare_data`, `~Trainer.start`, `~Trainer.restore_checkpoint`,
`~Trainer.record_loss`, `~Trainer.validate`, `~Trainer.save_checkpoint`,
`~Trainer.finish`), driven by `clustermass.flow.MassFlow.fit`; a new training
option lands here and touches neither the network nor the model file. The
helpers work on numpy arrays and import no TensorFlow: `split_by_group` (a
train/validation split that keeps the lines of sight of one host together, so
that early stopping measures generalisation to *new clusters*),
`BatchSchedule` (the rows of update ``k`` depend only on the seed and ``k``,
so a resumed run sees the batches an uninterrupted one would have seen),
`thin_histograms` (exact random galaxy loss: ``Binomial(n, p)`` per bin),
`EarlyStopping` (Kodi Ramanah et al. 2020, MNRAS 499, 1985: stop after 200
updates without improvement, keep the best weights) and `fingerprint` (so
that checkpoints of another run are never resumed).
"""

import hashlib
import json
import os

import numpy as np

from .._io import progress_bar, write_json_atomic
from ..exceptions import ClusterMassWarning, InvalidInputError, ModelError, warn_user
from ..logger import log
from ._modelfile import FORMAT_VERSION
from .config import check_thin_range

__all__ = [
    "split_by_group",
    "thin_histograms",
    "BatchSchedule",
    "EarlyStopping",
    "fingerprint",
    "fit_scaling",
    "Trainer",
]

# Floor of per-pixel scales, relative to the global scale (sbi issue #126:
# pixels that are always empty in the training set have zero variance).
_PIXEL_SCALE_FLOOR = 0.1
_STATE_FILE = "state.json"


def split_by_group(groups, fraction, seed=0):
    """Split rows into training and validation sets, whole groups at a time.

    Parameters
    ----------
    groups : array-like
        One label per row (e.g. the host-halo id of each line of sight). Rows
        with the same label always land in the same set.
    fraction : float
        Target fraction of *rows* in the validation set, in [0, 1). Groups are
        drawn in random order until at least this many rows are in it.
    seed : int, optional
        Seed of the random order of groups.

    Returns
    -------
    train, val : `~numpy.ndarray`
        Sorted row indices of the two sets.

    Raises
    ------
    InvalidInputError
        ``fraction`` outside [0, 1), or fewer than two groups when a validation
        set is asked for.

    Examples
    --------
    >>> from clustermass.flow.fit import split_by_group
    >>> train, val = split_by_group([1, 1, 2, 2, 3, 3, 4, 4, 5, 5], 0.2, seed=0)
    >>> len(train), len(val)
    (8, 2)
    >>> sorted({[1, 1, 2, 2, 3, 3, 4, 4, 5, 5][i] for i in val})  # one whole host
    [3]
    """
    g = np.asarray(groups).ravel()
    if not (0.0 <= float(fraction) < 1.0):
        raise InvalidInputError(f"validation fraction must be in [0, 1), got {fraction!r}")
    n = g.size
    if fraction == 0 or n == 0:
        return np.arange(n), np.arange(0)
    labels, inverse, counts = np.unique(g, return_inverse=True, return_counts=True)
    if labels.size < 2:
        raise InvalidInputError(
            "cannot make a validation set: all rows belong to a single group"
        )
    rng = np.random.default_rng(seed)
    order = rng.permutation(labels.size)
    target = max(1, int(round(fraction * n)))
    cum = np.cumsum(counts[order])
    n_val_groups = int(np.searchsorted(cum, target) + 1)
    # Always leave at least one group for training.
    n_val_groups = min(n_val_groups, labels.size - 1)
    is_val_group = np.zeros(labels.size, bool)
    is_val_group[order[:n_val_groups]] = True
    is_val = is_val_group[inverse]
    return np.flatnonzero(~is_val), np.flatnonzero(is_val)


def thin_histograms(histograms, p, rng=None):
    """Randomly remove galaxies from phase-space histograms.

    Each galaxy is kept independently with probability ``p``; in a bin with
    ``n`` galaxies the number kept is then ``Binomial(n, p)``, which is what is
    drawn here, so the result is exactly the histogram of a randomly thinned
    galaxy list.

    Parameters
    ----------
    histograms : array-like
        Galaxy counts (non-negative integers, any shape; the first axis runs
        over clusters when ``p`` is an array).
    p : float or array-like
        Probability of keeping a galaxy, in [0, 1]: one number, or one per
        cluster (length of the first axis).
    rng : `numpy.random.Generator` or int, optional
        Random generator or seed.

    Returns
    -------
    thinned : `~numpy.ndarray`
        float32 array of the same shape.

    Examples
    --------
    >>> import numpy as np
    >>> from clustermass.flow.fit import thin_histograms
    >>> h = np.full((2, 3, 3), 100.0)
    >>> t = thin_histograms(h, [0.5, 1.0], rng=0)
    >>> bool(np.all(t[1] == 100)), bool(abs(t[0].mean() - 50) < 10)
    (True, True)
    """
    h = np.asarray(histograms)
    if h.size and (not np.all(np.isfinite(h)) or h.min() < 0):
        raise InvalidInputError("histograms must hold finite, non-negative counts")
    counts = np.rint(h)
    if h.size and np.max(np.abs(counts - h)) > 1e-3:
        raise InvalidInputError(
            "thinning needs galaxy counts (integers); these histograms are not counts"
        )
    p = np.asarray(p, dtype=float)
    if np.any(~np.isfinite(p)) or np.any(p < 0) or np.any(p > 1):
        raise InvalidInputError("thinning probabilities must lie in [0, 1]")
    if p.ndim == 1:
        if h.ndim == 0 or p.size != h.shape[0]:
            raise InvalidInputError(
                f"need one thinning probability per histogram ({h.shape[0] if h.ndim else 0}),"
                f" got {p.size}"
            )
        p = p.reshape((-1,) + (1,) * (h.ndim - 1))
    elif p.ndim > 1:
        raise InvalidInputError("p must be a number or a 1-D array")
    rng = np.random.default_rng(rng)
    return rng.binomial(counts.astype(np.int64), p).astype(np.float32)


class BatchSchedule:
    """Row indices of the training batch of each update, reproducible from the seed.

    Rows are visited in epochs; each epoch is a fresh permutation drawn from
    ``numpy.random.default_rng([seed, epoch])``, cut into ``n // batch_size``
    batches (the last incomplete batch is dropped). The batch of update ``k``
    therefore depends only on ``(seed, k)``: a resumed run continues with
    exactly the batches an uninterrupted run would have used.

    Parameters
    ----------
    n : int
        Number of training rows.
    batch_size : int
        Rows per batch (reduced to ``n`` when there are fewer rows).
    seed : int
        Seed.

    Examples
    --------
    >>> from clustermass.flow.fit import BatchSchedule
    >>> s = BatchSchedule(10, 4, seed=0)
    >>> s.updates_per_epoch
    2
    >>> len(s.indices(5))
    4
    """

    def __init__(self, n, batch_size, seed):
        if n < 1:
            raise InvalidInputError("no training rows")
        if batch_size < 1:
            raise InvalidInputError(f"batch_size must be positive, got {batch_size}")
        self.n = int(n)
        self.batch_size = int(min(batch_size, n))
        self.seed = int(seed)
        self.updates_per_epoch = self.n // self.batch_size
        self._epoch = None
        self._perm = None

    def indices(self, update):
        """Row indices (sorted within the batch) used by update number ``update``."""
        epoch, k = divmod(int(update), self.updates_per_epoch)
        if epoch != self._epoch:
            self._perm = np.random.default_rng([self.seed, epoch]).permutation(self.n)
            self._epoch = epoch
        return np.sort(self._perm[k * self.batch_size:(k + 1) * self.batch_size])


class EarlyStopping:
    """Track the best validation loss and decide when to stop.

    Parameters
    ----------
    patience : int
        Stop once this many updates have passed since the best validation loss
        (200 in Kodi Ramanah et al. 2020). ``None`` never stops early.
    min_delta : float, optional
        An improvement smaller than this does not count.

    Examples
    --------
    >>> from clustermass.flow.fit import EarlyStopping
    >>> es = EarlyStopping(patience=200)
    >>> es.update(100, 1.0), es.update(200, 1.2), es.should_stop(299), es.should_stop(300)
    (True, False, False, True)
    >>> es.best_update, es.best_loss
    (100, 1.0)
    """

    def __init__(self, patience, *, min_delta=0.0):
        self.patience = None if patience is None else int(patience)
        self.min_delta = float(min_delta)
        self.best_loss = float("inf")
        self.best_update = -1

    def update(self, update, loss):
        """Record the validation loss after ``update`` updates; True if it is a new best."""
        loss = float(loss)
        if np.isfinite(loss) and loss < self.best_loss - self.min_delta:
            self.best_loss = loss
            self.best_update = int(update)
            return True
        return False

    def should_stop(self, update):
        """True when ``patience`` updates have passed without improvement."""
        if self.patience is None or self.best_update < 0:
            return False
        return int(update) - self.best_update >= self.patience

    def to_dict(self):
        """State as a JSON-serialisable dict."""
        return {"patience": self.patience, "min_delta": self.min_delta,
                "best_loss": self.best_loss if np.isfinite(self.best_loss) else None,
                "best_update": self.best_update}

    @classmethod
    def from_dict(cls, d):
        """Rebuild from `EarlyStopping.to_dict`."""
        es = cls(d["patience"], min_delta=d.get("min_delta", 0.0))
        es.best_loss = float("inf") if d["best_loss"] is None else float(d["best_loss"])
        es.best_update = int(d["best_update"])
        return es


def fingerprint(*arrays, extra=None):
    """A short hash of arrays (and a JSON-serialisable ``extra``) identifying a training run."""
    h = hashlib.blake2b(digest_size=16)
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(str((a.dtype.str, a.shape)).encode())
        h.update(a.tobytes())
    if extra is not None:
        h.update(json.dumps(extra, sort_keys=True, default=str).encode())
    return h.hexdigest()


def fit_scaling(config, network, counts, log_mass):
    """Input and output standardisation from the training split (``counts``, ``log_mass``).

    Returns ``x_mean``, ``x_scale`` (float32 arrays; one value for all inputs or
    one per input, as ``config.standardize`` says), ``y_mean``, ``y_std`` and
    the summaries saved with a model (``global_mean``, ``global_std``,
    ``log_mass_range``, ``n_galaxies_range``). ``network.raw_features`` gives
    the transformed inputs.
    """
    f = np.concatenate([network.raw_features(counts[i:i + 4096])
                        for i in range(0, len(counts), 4096)]).astype(np.float64)
    n_in = f.shape[1]
    n_z = int(config.condition_redshift)  # the redshift: the last column, scaled alone
    img = f[:, :n_in - n_z]
    g_mean = float(img.mean())
    g_std = float(img.std())
    if not g_std > 0:
        g_std = 1.0
    if config.standardize == "global":
        x_mean = np.full(n_in, g_mean)
        x_scale = np.full(n_in, g_std)
    else:
        x_mean = f.mean(axis=0)
        x_scale = np.maximum(f.std(axis=0), _PIXEL_SCALE_FLOOR * g_std)
    if n_z:
        z_std = float(f[:, -1].std())
        x_mean[-1], x_scale[-1] = float(f[:, -1].mean()), z_std if z_std > 0 else 1.0
    y_std = float(np.std(log_mass))
    totals = counts[:, :network.n_in].sum(axis=1)
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


def mean_nll(network, X, y, batch=2048):
    """Mean negative log-likelihood of ``(X, y)`` under ``network`` (float64 sum)."""
    total = 0.0
    for i in range(0, len(y), batch):
        lp = network.log_prob_pairs(X[i:i + batch], y[i:i + batch])
        total += -float(np.sum(lp, dtype=np.float64))
    return total / len(y)


def _read_state(checkpoint_dir):
    path = os.path.join(checkpoint_dir, _STATE_FILE)
    if not os.path.isfile(path):
        return None
    try:
        with open(path) as f:
            state = json.load(f)
        state["checkpoint"], state["update"], state["history"]  # noqa: B018
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ModelError(f"cannot resume: {path} is unreadable ({exc})") from exc
    return state


class Trainer:
    """Maximum-likelihood training of a flow's network, one named step at a time.

    The network is trained with Adam on the negative log-likelihood of the
    training split, with early stopping on the validation split; the weights
    with the best validation loss are kept. Input scaling is fitted on the
    training split only. `clustermass.flow.MassFlow.fit` documents the
    parameters and calls `prepare_data` (checks and split, no TensorFlow),
    then `train` (`start`, `restore_checkpoint`, the updates with
    `record_loss`, `validate` and `save_checkpoint`, then `finish`).

    Parameters
    ----------
    config : `~clustermass.flow.FlowConfig`
        Training settings (and defaults of the options below).
    grid : `~clustermass.phasespace.PhaseSpaceGrid`
        The grid of the histograms (part of the run's fingerprint).
    validation_fraction, max_updates, batch_size, seed, checkpoint_dir, progress, augment_thin
        As in `~clustermass.flow.MassFlow.fit`.
    """

    def __init__(self, config, grid, *, validation_fraction=0.2, max_updates=None,
                 batch_size=None, seed=0, checkpoint_dir=None, progress=None,
                 augment_thin=None):
        self.config, self.grid = config, grid
        self.validation_fraction, self.seed = validation_fraction, seed
        self.max_updates, self.batch_size = max_updates, batch_size
        self.checkpoint_dir, self.progress = checkpoint_dir, progress
        self.augment_thin = augment_thin
        self.network = self.history = None

    # -- step 1 ----------------------------------------------------------------
    def prepare_data(self, X, log_mass, groups=None):
        """Check the inputs and options, and split the rows into training and validation.

        ``X`` is the float32 array ``(n, n_bins)`` of histograms (already
        checked by the model). Nothing here touches the network, so a failure
        leaves a trained flow as it was.

        Raises
        ------
        InvalidInputError
            Malformed inputs or options.
        """
        cfg = self.config
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
        max_updates = cfg.max_updates if self.max_updates is None else int(self.max_updates)
        batch_size = cfg.batch_size if self.batch_size is None else int(self.batch_size)
        if max_updates < 1 or batch_size < 1:
            raise InvalidInputError("max_updates and batch_size must be positive")
        if self.augment_thin is None:
            augment = cfg.augment_thin
        elif self.augment_thin is False:
            augment = None
        else:
            augment = tuple(float(p) for p in self.augment_thin)
            check_thin_range(augment)
        seed = int(self.seed)
        train_idx, val_idx = split_by_group(g, self.validation_fraction, seed)
        if train_idx.size == 0:
            raise InvalidInputError("no training rows left after the validation split")
        n_bins = self.grid.n_r * self.grid.n_v  # a redshift column may follow the bins
        if augment is not None and np.any(np.rint(X[:, :n_bins]) != X[:, :n_bins]):
            raise InvalidInputError(
                "augment_thin needs histograms of integer galaxy counts; pass "
                "augment_thin=False to train on non-integer inputs"
            )
        self.X, self.y, self.groups = X, y, g
        self.max_updates, self.batch_size, self.augment, self.seed = (
            max_updates, batch_size, augment, seed)
        self.train_idx, self.val_idx = train_idx, val_idx

    # -- step 2 ----------------------------------------------------------------
    def start(self, network):
        """Fit the input scaling, make the optimizer, and start a fresh history."""
        cfg = self.config
        self.network = network
        self.scaling = fit_scaling(cfg, network, self.X[self.train_idx],
                                   self.y[self.train_idx])
        network.set_scaling(self.scaling)
        network.start_training(cfg)
        self.run_id = self.fingerprint()
        self.early_stopping = EarlyStopping(cfg.patience if self.val_idx.size else None)
        self.history = {"update": [], "loss": [], "val_loss": []}
        self.start_update = 0
        self.accumulator = [0.0, 0]  # running training loss since the last evaluation
        self.stopped_early = False
        self.checkpoints = None

    def fingerprint(self):
        """The hash of this run's data and settings (all but ``max_updates``)."""
        cfg = self.config.to_dict()
        cfg.pop("max_updates", None)
        g = np.unique(np.asarray(self.groups), return_inverse=True)[1]
        return fingerprint(self.X, np.asarray(self.y, np.float64), g, extra={
            "config": cfg, "seed": self.seed,
            "validation_fraction": float(self.validation_fraction),
            "batch_size": self.batch_size, "augment": self.augment,
            "grid": self.grid.to_dict(), "format": FORMAT_VERSION,
        })

    # -- step 3 ----------------------------------------------------------------
    def restore_checkpoint(self):
        """Open the checkpoint directory; resume from its last checkpoint of this run.

        Raises `~clustermass.exceptions.ModelError` if the directory holds
        checkpoints of a different run, or they cannot be read.
        """
        if self.checkpoint_dir is None:
            return
        self.checkpoint_dir = os.fspath(self.checkpoint_dir)
        os.makedirs(self.checkpoint_dir, exist_ok=True)
        self.checkpoints = self.network.checkpoints(self.checkpoint_dir)
        state = _read_state(self.checkpoint_dir)
        if state is None:
            return
        if state.get("run") != self.run_id:
            raise ModelError(
                f"checkpoint directory {self.checkpoint_dir} holds checkpoints of a different "
                "training run (other data, configuration, seed or options); use another "
                "directory or delete it"
            )
        path = self.checkpoints.restore(state["checkpoint"])
        self.start_update = int(state["update"])
        self.history = state["history"]
        self.early_stopping = EarlyStopping.from_dict(state["early_stopping"])
        self.accumulator = list(state["accumulator"])
        self.stopped_early = bool(state["stopped_early"])
        log.info(f"resuming training from update {self.start_update} ({path})")

    # -- the updates -------------------------------------------------------------
    def record_loss(self, update, loss):
        """Add one update's training loss; False if it diverged (stop, keep the best weights).

        Raises `~clustermass.exceptions.ModelError` if it diverged before any
        usable weights.
        """
        if not np.isfinite(loss):
            if self.early_stopping.best_update < 0:
                raise ModelError(
                    f"training diverged (non-finite loss) at update {update} "
                    "before any usable weights; try a smaller learning rate"
                )
            warn_user(f"training diverged (non-finite loss) at update {update}; "
                      "stopped and kept the best weights", ClusterMassWarning)
            self.stopped_early = True
            return False
        self.accumulator[0] += loss
        self.accumulator[1] += 1
        return True

    def validate(self, update):
        """Evaluate and record the losses, keep the best weights; return the metrics.

        The metrics are ``loss`` (mean training loss since the previous
        evaluation) and ``val_loss`` (`None` without a validation split).
        """
        acc = self.accumulator
        train_loss = acc[0] / max(acc[1], 1)
        self.accumulator = [0.0, 0]
        val_loss = None
        if self.val_idx.size:
            val_loss = mean_nll(self.network, self.X[self.val_idx],
                                self.y[self.val_idx].astype(np.float32))
        self.history["update"].append(update)
        self.history["loss"].append(train_loss)
        self.history["val_loss"].append(val_loss)
        if self.val_idx.size and self.early_stopping.update(update, val_loss):
            self.network.keep_best()
        if self.early_stopping.should_stop(update):
            self.stopped_early = True
        return {"loss": train_loss, "val_loss": val_loss}

    def save_checkpoint(self, update):
        """Write a checkpoint and the run's state (``state.json``, atomically)."""
        if self.checkpoints is None:
            return
        name = self.checkpoints.save(update)
        write_json_atomic({
            "run": self.run_id, "update": update, "checkpoint": name,
            "history": self.history, "early_stopping": self.early_stopping.to_dict(),
            "accumulator": self.accumulator, "stopped_early": self.stopped_early,
            "max_updates": self.max_updates,
        }, os.path.join(self.checkpoint_dir, _STATE_FILE))

    # -- the loop ----------------------------------------------------------------
    def train(self, network):
        """Train ``network`` (a fresh ``clustermass.flow._network`` network); return the history.

        `prepare_data` must have been called.
        """
        self.start(network)
        self.restore_checkpoint()
        cfg = self.config
        start, stop = self.start_update, self.max_updates
        callback = self.progress if callable(self.progress) else None
        bar = progress_bar(False if callback is not None else self.progress, total=stop,
                           desc="training flow", unit="update", initial=start, leave=False)
        schedule = BatchSchedule(self.train_idx.size, self.batch_size, self.seed)
        train_idx = self.train_idx

        def batch_rows(k):
            return train_idx[schedule.indices(k)]

        update = start
        try:
            if not self.stopped_early and start < stop:
                for loss in network.train(self.X, self.y, batch_rows, schedule.batch_size,
                                          start, stop, self.seed, self.augment):
                    update += 1
                    bar.update(1)
                    if not self.record_loss(update, loss):
                        break
                    last = update == stop
                    if update % cfg.eval_every == 0 or last:
                        metrics = self.validate(update)
                        if callback is not None:
                            callback(update, metrics)
                        bar.set_postfix({k: f"{v:.4f}" for k, v in metrics.items()
                                         if v is not None})
                    if update % cfg.checkpoint_every == 0 or last or self.stopped_early:
                        self.save_checkpoint(update)
                    if self.stopped_early:
                        break
        finally:
            bar.close()
        return self.finish(update)

    # -- step 4 ----------------------------------------------------------------
    def finish(self, update):
        """Restore the best weights; complete the history (`~clustermass.flow.MassFlow.fit`)."""
        es, has_val = self.early_stopping, bool(self.val_idx.size)
        if has_val and es.best_update >= 0:
            self.network.restore_best()
        self.history.update(
            best_update=es.best_update if has_val else update,
            best_val_loss=es.best_loss if has_val and es.best_update >= 0 else None,
            n_updates=update,
            stopped_early=self.stopped_early,
            resumed_from=self.start_update if self.start_update > 0 else None,
            n_train=int(self.train_idx.size),
            n_val=int(self.val_idx.size),
        )
        scaling = self.network.get_scaling()
        scaling.update({k: self.scaling[k] for k in
                        ("global_mean", "global_std", "log_mass_range", "n_galaxies_range")})
        self.scaling = scaling
        return self.history

    def summary(self):
        """The training settings and results recorded in a model's ``meta``."""
        h = self.history
        return dict(
            seed=self.seed, augment_thin=None if self.augment is None else list(self.augment),
            validation_fraction=float(self.validation_fraction), batch_size=self.batch_size,
            max_updates=self.max_updates,
            **{k: h[k] for k in ("best_update", "best_val_loss", "n_updates",
                                 "stopped_early", "n_train", "n_val")},
        )
