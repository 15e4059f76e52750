"""The on-disk format of a `~clustermass.flow.MassFlow`: a directory of two files.

``weights.npz``
    The network's weights (``w000``, ``w001``, ... in the network's order) and
    the input scaling (``x_mean``, ``x_scale``): plain arrays, no pickle.
``model.json``
    Format name and version, configuration, grid, scaling summary, training
    metadata, package versions, the SHA-256 of the weight file and a SHA-256
    of the metadata itself, so that a modified file is detected on loading.

A directory is written to a temporary sibling first and moved into place, so
that a reader sees the old model or the new one, never half of one.

`ModelCache` keeps models read from disk by `file_signature` (the real path,
the SHA-256 of ``model.json``, and the inode, size and modification time of
the weight file), so that an unchanged directory is read only once per session.

Private module with public names, used by `clustermass.flow.model` (and, for
`FORMAT_VERSION`, by the trainer's run fingerprint).
"""

import collections
import hashlib
import json
import os
import shutil
import tempfile
import threading
import types

import numpy as np

from .._io import file_sha256, json_safe, replace_dir
from ..exceptions import IncompatibleModelError, InvalidInputError, ModelError
from ..phasespace import PhaseSpaceGrid
from .config import FlowConfig

__all__ = ["FORMAT_VERSION", "FORMAT_NAME", "WEIGHTS_FILE", "MODEL_FILE", "metadata_hash",
           "write_model", "read_model", "check_grid", "file_signature", "ModelCache"]

#: Version of the on-disk model format written by `MassFlow.save`.
FORMAT_VERSION = 1
#: The ``format`` entry of ``model.json``.
FORMAT_NAME = "clustermass.MassFlow"
WEIGHTS_FILE = "weights.npz"
MODEL_FILE = "model.json"


def metadata_hash(doc):
    """SHA-256 of a model document without its ``metadata_sha256`` entry."""
    payload = {k: v for k, v in doc.items() if k != "metadata_sha256"}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def write_model(directory, *, weights, scaling_arrays, doc):
    """Write a model directory (replaced atomically if it exists).

    Parameters
    ----------
    directory : str or path-like
        The model directory.
    weights : list of (str, ndarray)
        The network's weights by name, in order.
    scaling_arrays : dict of ndarray
        ``x_mean`` and ``x_scale``.
    doc : dict
        Everything else of ``model.json`` (``config``, ``grid``, ``scaling``,
        ``meta``, ``versions``, ``saved``); format, version, weight-file
        description and checksums are added here.
    """
    directory = os.path.abspath(os.fspath(directory))
    parent = os.path.dirname(directory)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(directory)}.tmp", dir=parent)
    try:
        arrays = {f"w{i:03d}": a for i, (_, a) in enumerate(weights)}
        arrays.update(scaling_arrays)
        wpath = os.path.join(tmp, WEIGHTS_FILE)
        with open(wpath, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        doc = dict(doc, format=FORMAT_NAME, format_version=FORMAT_VERSION, weights={
            "file": WEIGHTS_FILE,
            "sha256": file_sha256(wpath),
            "names": [name for name, _ in weights],
            "shapes": [list(a.shape) for _, a in weights],
        })
        doc = json_safe(doc)
        doc["metadata_sha256"] = metadata_hash(doc)
        with open(os.path.join(tmp, MODEL_FILE), "w") as f:
            json.dump(doc, f, indent=2, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        replace_dir(tmp, directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def check_grid(model_grid, grid, directory):
    """Raise `IncompatibleModelError` if ``grid`` is given and differs from ``model_grid``."""
    if grid is not None and grid != model_grid:
        raise IncompatibleModelError(
            f"the model in {directory} was trained on {model_grid!r}, not on {grid!r}; "
            "histogram the data on the model's grid (MassFlow.grid)"
        )


def file_signature(directory):
    """What changes when a model directory is rewritten: its path and its files' contents.

    The real path, the SHA-256 of ``model.json`` (which holds the weight
    file's checksum) and the inode, size and modification time of the weight
    file. Returns ``None`` when a file is missing or unreadable (the caller
    then reads the directory and reports the problem). Equal signatures mean
    the same model on disk, so a model read once can be reused.
    """
    directory = os.path.realpath(os.fspath(directory))
    try:
        with open(os.path.join(directory, MODEL_FILE), "rb") as f:
            doc_hash = hashlib.sha256(f.read()).hexdigest()
        st = os.stat(os.path.join(directory, WEIGHTS_FILE))
    except OSError:
        return None
    return directory, doc_hash, (st.st_ino, st.st_size, st.st_mtime_ns)


class ModelCache:
    """Models read from disk, kept by the signature of their files (`file_signature`).

    Thread-safe, least recently used first out. What is kept is up to the
    caller (`~clustermass.flow.MassFlow.load` keeps the model document and its
    network, so that an unchanged directory is read, built and traced once).

    Parameters
    ----------
    maxsize : int
        How many models to keep.
    """

    def __init__(self, maxsize=8):
        self.maxsize = int(maxsize)
        self._items = collections.OrderedDict()
        self._lock = threading.Lock()

    def lookup(self, directory):
        """``(key, value)``: the directory's signature and what is kept for it (or `None`)."""
        key = file_signature(directory)
        with self._lock:
            value = self._items.get(key) if key is not None else None
            if value is not None:
                self._items.move_to_end(key)
        return key, value

    def store(self, key, value):
        """Keep ``value`` under ``key`` (from `lookup`; `None` keeps nothing)."""
        if key is None:
            return
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)

    def clear(self):
        """Forget everything."""
        with self._lock:
            self._items.clear()

    def __len__(self):
        return len(self._items)


def read_model(directory, *, grid=None):
    """Read and check a model directory written by `write_model`.

    Parameters
    ----------
    directory : str or path-like
    grid : `~clustermass.phasespace.PhaseSpaceGrid`, optional
        If given, it must equal the model's grid.

    Returns
    -------
    model : `types.SimpleNamespace`
        ``config`` (`~clustermass.flow.FlowConfig`), ``grid``, ``weights``
        (list of arrays), ``scaling`` (dict, with ``x_mean`` and ``x_scale``),
        ``meta`` and ``versions`` (dicts) and ``path`` (the model.json path).

    Raises
    ------
    ModelError
        Missing, unreadable or corrupt files (checksum mismatch).
    IncompatibleModelError
        Unknown format version, or a ``grid`` different from the model's.
    """
    directory = os.fspath(directory)
    mpath = os.path.join(directory, MODEL_FILE)
    if not os.path.isfile(mpath):
        raise ModelError(f"no model in {directory}: {MODEL_FILE} is missing")
    try:
        with open(mpath) as f:
            doc = json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"cannot read {mpath}: not a valid model file ({exc})") from exc
    if not isinstance(doc, dict) or doc.get("format") != FORMAT_NAME:
        raise ModelError(f"{mpath} is not a clustermass MassFlow model file")
    version = doc.get("format_version")
    if version != FORMAT_VERSION:
        raise IncompatibleModelError(
            f"{mpath} has model format version {version!r}; this version of clustermass "
            f"reads version {FORMAT_VERSION}. Use a matching clustermass or retrain the model"
        )
    if doc.get("metadata_sha256") != metadata_hash(doc):
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
    check_grid(model_grid, grid, directory)
    wpath = os.path.join(directory, winfo.get("file", WEIGHTS_FILE))
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
    return types.SimpleNamespace(config=config, grid=model_grid, weights=arrays,
                                 scaling=scaling, meta=dict(doc.get("meta") or {}),
                                 versions=doc.get("versions", {}), path=mpath)
