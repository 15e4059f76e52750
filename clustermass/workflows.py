"""Application workflows built on the public API: the layer between the
command line (`clustermass.cli`, which only parses arguments and prints) and
the library (phase space, flows, posteriors, mocks).

* `train_from_catalogue`: train a flow on a mock catalogue file and save it.
"""

import os
import shutil

import numpy as np

from ._io import file_sha256, json_safe
from .logger import log

__all__ = ["train_from_catalogue"]


def train_from_catalogue(catalogue_path, *, config="default", output, seed=0, grid=None,
                         max_updates=None, checkpoint_dir=None, keep_checkpoints=False,
                         progress=None, **fit_kwargs):
    """Train a `~clustermass.flow.MassFlow` on a mock catalogue and save it.

    This is what ``clustermass train MOCKS --config {default,paper} --output DIR
    [--seed S]`` runs. Lines of sight of one host halo stay together in the
    train/validation split. Training checkpoints go to ``checkpoint_dir``
    (default ``<output>.checkpoints``); running the same command again after
    an interruption resumes from the last checkpoint. They are deleted once the
    model is saved, unless ``keep_checkpoints`` is true.

    Parameters
    ----------
    catalogue_path : str or path-like
        A mock catalogue readable by ``clustermass.mocks.load``.
    config : str or `~clustermass.flow.FlowConfig`, optional
        ``"default"`` or ``"paper"`` or a configuration.
    output : str or path-like
        Model directory to write (replaced atomically if it exists).
    seed : int, optional
        Seed of the split, initialisation, batches and augmentation.
    grid : `~clustermass.phasespace.PhaseSpaceGrid`, optional
        Phase-space grid (default: the standard 50 x 50 grid).
    max_updates : int, optional
        Number of updates (default: the configuration's).
    checkpoint_dir : str or path-like, optional
        Where to keep training checkpoints.
    keep_checkpoints : bool, optional
        Keep ``checkpoint_dir`` after success.
    progress : bool, optional
        Show a progress bar (default: ``clustermass.conf.show_progress``).
    **fit_kwargs
        Passed on to `~clustermass.flow.MassFlow.fit` (e.g. ``augment_thin``,
        ``validation_fraction``, ``batch_size``).

    Returns
    -------
    flow : `~clustermass.flow.MassFlow`
        The trained flow (also written to ``output``).
    """
    from . import mocks
    from .flow import MassFlow

    catalogue = mocks.load(catalogue_path)
    flow = MassFlow(config, grid=grid)
    hists = catalogue.histograms(flow.grid)
    log_mass = np.asarray(catalogue.log_mass, dtype=float)
    groups = np.asarray(catalogue.host_id)
    output = os.fspath(output)
    if checkpoint_dir is None:
        checkpoint_dir = os.path.normpath(output) + ".checkpoints"
    log.info(f"training a '{flow.config.name}' flow on {len(log_mass)} clusters from "
             f"{catalogue_path} (seed {seed})")
    flow.fit(hists, log_mass, groups=groups, seed=seed, max_updates=max_updates,
             checkpoint_dir=checkpoint_dir, progress=progress, **fit_kwargs)
    flow.meta["training_catalogue"] = {
        # The file's name and checksum, not its absolute path (which says nothing on
        # another machine): the same `clustermass mock` command gives the same bytes.
        "file": os.path.basename(os.fspath(catalogue_path)),
        "sha256": file_sha256(catalogue_path) if os.path.isfile(catalogue_path) else None,
        "n_clusters": int(len(log_mass)),
        "n_hosts": int(np.unique(groups).size),
        "meta": json_safe(getattr(catalogue, "meta", {})),
    }
    flow.save(output)
    if not keep_checkpoints:
        shutil.rmtree(checkpoint_dir, ignore_errors=True)
    log.info(f"wrote {output}")
    return flow
