"""File and console helpers shared by every module: atomic writes, checksums,
JSON-safe conversion and progress bars.

Private module with public names (the photutils ``utils/_progress_bars.py``
pattern): one copy of each helper, imported from here by every caller.
Nothing is lost on failure: every writer goes through a temporary file in the
destination folder and `os.replace`, so a reader sees the old file or the new
one, never half of one.
"""

import contextlib
import hashlib
import json
import os
import shutil
import tempfile

import numpy as np

__all__ = [
    "atomic_path",
    "write_json_atomic",
    "replace_dir",
    "file_sha256",
    "json_safe",
    "show_progress",
    "progress_bar",
]


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; on success move it onto ``path``.

    The temporary file is removed if the block raises, and ``path`` is left
    as it was. The new file gets the permissions `open` would give it (0666
    less the umask), not the private 0600 of `tempfile.mkstemp`.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    base = os.path.basename(path)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{base}.", suffix=".tmp")
    os.close(fd)
    try:
        # mkstemp makes the file private (0600); give it the mode open() would (0666 - umask)
        umask = os.umask(0o022)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


def write_json_atomic(obj, path, *, indent=2, sort_keys=True):
    """Write ``obj`` as JSON to ``path`` atomically (fsync'd before the rename)."""
    with atomic_path(path) as tmp, open(tmp, "w") as f:
        json.dump(obj, f, indent=indent, sort_keys=sort_keys)
        f.flush()
        os.fsync(f.fileno())


def replace_dir(src, dst):
    """Move directory ``src`` to ``dst``, replacing ``dst`` (atomic when it did not exist).

    An existing ``dst`` is first moved aside and restored if the move fails.
    """
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


def file_sha256(path):
    """SHA-256 (hex) of a file's bytes, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def json_safe(obj, *, nonfinite=True):
    """A copy of ``obj`` that `json.dumps` accepts.

    Dicts get string keys, tuples become lists, numpy scalars and arrays become
    Python numbers and lists, and anything else JSON cannot hold becomes its
    ``str``. With ``nonfinite=False``, NaN and infinities become `None`
    (strict JSON); by default they are kept (Python's JSON extension).
    """
    if isinstance(obj, dict):
        return {str(k): json_safe(v, nonfinite=nonfinite) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v, nonfinite=nonfinite) for v in obj]
    if isinstance(obj, np.ndarray):
        return json_safe(obj.tolist(), nonfinite=nonfinite)
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float):
        if not nonfinite and not np.isfinite(obj):
            return None
        return obj
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    return str(obj)


def show_progress(progress=None):
    """Whether to show progress bars: ``progress``, or ``conf.show_progress`` when `None`."""
    if progress is None:
        from ._config import conf

        return bool(conf.show_progress)
    return bool(progress)


def progress_bar(progress=None, *, total, desc, unit="it", **kwargs):
    """A `tqdm.auto.tqdm` bar, disabled unless `show_progress` says otherwise.

    A disabled bar is a plain `tqdm.tqdm`: ``tqdm.auto`` would warn in a
    notebook kernel without ipywidgets even when nothing is shown.
    """
    if show_progress(progress):
        from tqdm.auto import tqdm

        return tqdm(total=total, desc=desc, unit=unit, **kwargs)
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, disable=True, **kwargs)
