"""Training helpers for the conditional flows: splits, batches, augmentation, early stopping.

Everything here works on plain numpy arrays and imports no TensorFlow, so it
can be used (and tested) on its own. The training loop itself lives in
`clustermass.flow.MassFlow.fit`, which calls these helpers; the command-line
``clustermass train`` calls `train_from_catalogue`.

* `split_by_group`: a train/validation split that keeps all lines of sight of
  one host halo on the same side, so that validation (and early stopping)
  measures generalisation to *new clusters*, not to new projections of
  clusters already seen.
* `BatchSchedule`: which training rows make up update number ``k``. It depends
  only on the seed and ``k``, so a run resumed from a checkpoint sees exactly
  the batches an uninterrupted run would have seen.
* `thin_histograms`: random removal of galaxies from phase-space histograms.
  Dropping each galaxy independently with probability ``1 - p`` turns a bin
  holding ``n`` galaxies into a ``Binomial(n, p)`` count, so thinning a
  histogram bin by bin is exact, not an approximation.
* `EarlyStopping`: bookkeeping of the best validation loss (Kodi Ramanah et
  al. 2020, MNRAS 499, 1985: stop after 200 updates without improvement and
  keep the best weights).
"""

import hashlib
import json
import os

import numpy as np

from .exceptions import InvalidInputError
from .logger import log

__all__ = [
    "split_by_group",
    "thin_histograms",
    "BatchSchedule",
    "EarlyStopping",
    "fingerprint",
    "write_json_atomic",
]


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
    >>> from clustermass.training import split_by_group
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
    >>> from clustermass.training import thin_histograms
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
    >>> from clustermass.training import BatchSchedule
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
    >>> from clustermass.training import EarlyStopping
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


def write_json_atomic(obj, path):
    """Write ``obj`` as JSON to ``path`` through a temporary file and `os.replace`."""
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _json_safe(d):
    out = {}
    for k, v in dict(d or {}).items():
        try:
            json.dumps(v)
        except (TypeError, ValueError):
            v = str(v)
        out[str(k)] = v
    return out


def file_sha256(path):
    """SHA-256 (hex) of a file's bytes, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
