"""Application workflows built on the public API: the layer between the
command line (`clustermass.cli`, which only parses arguments and prints) and
the library (phase space, flows, posteriors, mocks). The scripts in
``scripts/`` use them too.

* `load_model`: a model from its name or directory (from `clustermass.models`);
* `train_from_catalogue`: train a flow on a mock catalogue file and save it
  (``clustermass train``);
* `evaluate_models`: flows and M-sigma on the same held-out mock clusters
  (``clustermass evaluate``);
* `table1`: the masses of the eight clusters of Kodi Ramanah et al. (2020,
  Table 1) (``clustermass table1``).
"""

import os
import shutil
import warnings

import numpy as np

from ._io import file_sha256, json_safe
from .exceptions import InvalidInputError
from .logger import log
from .models import load_model
from .validation import DEFAULT_BINS

__all__ = ["load_model", "train_from_catalogue", "evaluate_models", "table1"]


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
    if flow.conditions_on_redshift:
        fit_kwargs.setdefault("redshift", catalogue.redshift)
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


def _model_label(spec, model):
    """How ``clustermass evaluate`` labels a flow, e.g. ``"contaminated (default)"``.

    The last path component of ``spec`` (a name or a model directory), or the
    flow's name when ``spec`` is the flow, then its configuration's name.
    """
    if isinstance(spec, (str, os.PathLike)):
        name = os.path.basename(os.path.normpath(os.fspath(spec)))
    else:
        name = model.name
    return f"{name} ({model.config.name})"


def _load_flow(spec):
    from .flow import MassFlow

    model = load_model(spec)
    if not isinstance(model, MassFlow):
        raise InvalidInputError(
            f"evaluate flows (a shipped name or a model directory), not {spec!r}; M-sigma is"
            " evaluated on the same clusters unless msigma=False"
        )
    return model


def evaluate_models(models, catalogue, *, prior="flat", msigma=True, bins=DEFAULT_BINS,
                    high_mass=14.8, thin=None, seed=0):
    """Evaluate flows (and M-sigma) on the same held-out mock clusters.

    This is what ``clustermass evaluate MODEL MOCKS [--compare MODEL ...]``
    runs: `clustermass.validation.evaluate_catalogue` on models given as
    names, directories or flows.

    Parameters
    ----------
    models : sequence or dict
        Flows as anything `load_model` accepts (``"contaminated"``,
        ``"pure"``, a model directory, a `~clustermass.flow.MassFlow`),
        labelled by their name and configuration (e.g.
        ``"contaminated (default)"``); or a dict ``{label: model}``, where a
        value may be a list of flows on one grid, evaluated as an
        equal-weight ensemble (`~clustermass.validation.evaluate_catalogue`).
    catalogue : `~clustermass.mocks.MockCatalogue` or path-like
        Held-out test clusters, or the file of a test catalogue
        (``clustermass mock --split test``).
    prior : {'flat', 'mass_function'}, optional
        Prior of the flow posteriors (default ``'flat'``, as ``clustermass infer``).
    msigma : bool, optional
        Also evaluate the M-sigma relation (label ``"msigma"``).
    bins, high_mass
        As in `~clustermass.validation.evaluate`.
    thin : float or (float, float), optional
        Evaluate on the test clusters randomly thinned first
        (`~clustermass.mocks.MockCatalogue.thinned`): each galaxy kept with
        this probability, or with a probability drawn per cluster from this
        range. ``(0.5, 1)`` compares flows at equal, varied survey depth.
    seed : int, optional
        Seed of the thinning.

    Returns
    -------
    results : `~clustermass.validation.EvaluationResults`

    Raises
    ------
    InvalidInputError
        A model is not a flow (e.g. ``"msigma"``: use ``msigma=True``).
    """
    from . import mocks
    from .validation import evaluate_catalogue

    if isinstance(models, dict):
        loaded = {label: ([_load_flow(m) for m in spec] if isinstance(spec, (list, tuple))
                          else _load_flow(spec))
                  for label, spec in models.items()}
    else:
        loaded = {}
        for spec in models:
            model = _load_flow(spec)
            loaded[_model_label(spec, model)] = model
    if not hasattr(catalogue, "histograms"):
        catalogue = mocks.load(catalogue)
    if thin is not None:
        catalogue = catalogue.thinned(thin, seed=seed)
    return evaluate_catalogue(loaded, catalogue, prior=prior, include_msigma=msigma, bins=bins,
                              high_mass=high_mass)


def table1(method="contaminated", *, offline=False, prior=None):
    """Masses of the paper's eight clusters as an `~astropy.table.QTable`.

    This is what ``clustermass table1`` prints: for each cluster of Kodi
    Ramanah et al. (2020, Table 1), the number of galaxies in the window, our
    mass and its error, the paper's flow mass and the literature mass with
    its reference (`clustermass.clusters.reference_clusters`). Clusters
    without data (no NED access and no offline snapshot) keep NaN masses and
    the source ``"needs NED"``.

    Parameters
    ----------
    method : str or model, optional
        Anything `load_model` accepts: ``"contaminated"`` (default),
        ``"pure"``, ``"msigma"``, a model directory or a model.
    offline : bool, optional
        Use only the shipped snapshots, never NED.
    prior : {'flat', 'mass_function'}, optional
        Passed to `clustermass.core.ClusterMass.infer` (default
        `clustermass.core.DEFAULT_PRIOR`); ignored by M-sigma.

    Returns
    -------
    table : `~astropy.table.QTable`
        Columns ``cluster, n_galaxies, log_m_flow, log_m_flow_err,
        log_m_paper, log_m_paper_err, log_m_lit, log_m_lit_err,
        lit_reference, source``; ``meta`` holds ``method`` and, for flows,
        ``prior``.
    """
    from astropy.table import QTable

    from . import clusters
    from .baselines import MSigmaEstimator
    from .core import DEFAULT_PRIOR, ClusterMass
    from .exceptions import NEDError, OfflineError

    prior = DEFAULT_PRIOR if prior is None else prior
    ref = clusters.reference_clusters()
    model = load_model(method)
    rows = []
    for r in ref:
        name = r["name"]
        row = {"cluster": name, "n_galaxies": 0, "log_m_flow": np.nan, "log_m_flow_err": np.nan,
               "log_m_paper": float(r["log_m200c_flow_paper"]),
               "log_m_paper_err": float(r["log_m200c_flow_paper_err"]),
               "log_m_lit": float(r["log_m200c_lit"]),
               "log_m_lit_err": float(r["log_m200c_lit_err"]),
               "lit_reference": str(r["lit_reference"]), "source": "needs NED"}
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                cm = ClusterMass.from_ned(name, offline=offline)
                post = cm.infer(model, prior=prior)
        except (NEDError, OfflineError):
            rows.append(row)
            continue
        row.update(n_galaxies=post.meta["n_galaxies"], log_m_flow=post.mean,
                   log_m_flow_err=post.std, source=cm.source)
        rows.append(row)
    t = QTable(rows=[list(x.values()) for x in rows], names=list(rows[0]))
    for col in ("log_m_flow", "log_m_flow_err", "log_m_paper", "log_m_paper_err", "log_m_lit",
                "log_m_lit_err"):
        t[col].info.format = ".2f"
    t.meta["method"] = method if isinstance(method, str) else repr(method)
    if not isinstance(model, MSigmaEstimator):
        t.meta["prior"] = prior
    return t
