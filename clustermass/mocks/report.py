"""The mock validation run: catalogues, fits, figures and ``summary.json``.

`run_validation` (``clustermass mock-validate --output DIR``) generates pure
and contaminated, training and test catalogues and writes, to ``DIR``, a JSON
summary of the fits of `clustermass.mocks.fits` and the figures of
`clustermass.mocks.plots` (the user guide's):

* ``fig1_cluster.png``: one cluster, members and interlopers (Kodi Ramanah et
  al. 2020, Fig. 1);
* ``fig2_mass_functions.png``: mass distributions of the training and test
  sets, pure and contaminated (Kodi Ramanah et al. 2020, Fig. 2);
* ``sigma_mass.png``: biweight velocity dispersion of pure mocks against M200c,
  with the dark-matter relation of Evrard et al. (2008, ApJ 672, 122);
* ``interloper_fraction.png``: interloper fraction per mass bin;
* ``interloper_density.png``: stacked projected phase-space density of
  interlopers against the universal form of Mamon, Biviano & Murante (2010,
  A&A 520, A30);
* ``richness_mass.png``: members inside r200c against M200c.
"""

import os
import pathlib
import shutil

import numpy as np

from .._io import json_safe, write_json_atomic
from .._units import EVRARD_ALPHA, EVRARD_SIGMA15
from ..exceptions import ClusterMassError
from ..logger import log
from .catalogue import generate, load
from .fits import (
    biweight_dispersions,
    compare_mbm10,
    fit_msigma,
    fit_richness,
    host_weights,
    interloper_fractions,
    stack_interloper_density,
)
from .plots import (
    plot_cluster,
    plot_interloper_density,
    plot_interloper_fractions,
    plot_mass_functions,
    plot_richness,
    plot_sigma_mass,
    pyplot,
)
from .universe import SyntheticUniverse

__all__ = ["run_validation", "FIGURES"]

#: Figures written by `run_validation`.
FIGURES = ("fig1_cluster.png", "fig2_mass_functions.png", "sigma_mass.png",
           "interloper_fraction.png", "interloper_density.png", "richness_mass.png")


def _table_rows(t):
    return [{c: (row[c].item() if hasattr(row[c], "item") else row[c]) for c in t.colnames}
            for row in t]


def run_validation(output, *, n_train=4000, n_test=4000, seed=2020, jobs=1,
                   catalogue_dir=None, docs_dir=None, progress=None, **params):
    """Generate catalogues, compute the validation numbers, write figures and JSON.

    Parameters
    ----------
    output : str or path-like
        Directory for ``summary.json`` and the figures (`FIGURES`).
    n_train, n_test : int
        Clusters per training / test catalogue (four catalogues are made).
    seed, jobs, progress, **params
        As in `~clustermass.mocks.generate`.
    catalogue_dir : str or path-like, optional
        Where the catalogues go (default ``output/catalogues``); existing files
        made with the same settings are reused.
    docs_dir : str or path-like, optional
        Also copy the figures there (e.g. ``docs/_static/mocks``).

    Returns
    -------
    summary : dict
        What ``summary.json`` holds.
    """
    out = pathlib.Path(os.fspath(output))
    out.mkdir(parents=True, exist_ok=True)
    cdir = pathlib.Path(os.fspath(catalogue_dir)) if catalogue_dir else out / "catalogues"
    cdir.mkdir(parents=True, exist_ok=True)
    uni = SyntheticUniverse(**params)
    cats, paths = {}, {}
    for split, n in (("train", n_train), ("test", n_test)):
        for kind in ("pure", "contaminated"):
            path = cdir / f"{kind}_{split}_n{n}_s{seed}.h5"
            cat = None
            if path.exists():
                try:
                    cat = load(path)
                    if cat.meta.get("universe") != uni.to_dict() or len(cat) != n:
                        cat = None
                except ClusterMassError:
                    cat = None
            if cat is None:
                generate(path, kind=kind, split=split, n_clusters=n, seed=seed, jobs=jobs,
                         progress=progress, overwrite=True, universe=uni)
                cat = load(path)
            cats[(kind, split)] = cat
            paths[f"{kind}_{split}"] = path.name

    z = uni.redshift
    summary = {"catalogues": paths, "n_train": n_train, "n_test": n_test, "seed": seed,
               "universe": uni.to_dict()}
    # Evrard et al. (2008): pure mocks
    evrard = {}
    sig_all, lm_all, w_all = [], [], []
    for split in ("train", "test"):
        cat = cats[("pure", split)]
        sig = biweight_dispersions(cat)
        w = host_weights(cat)
        evrard[split] = fit_msigma(cat.log_mass, sig, redshift=z, cosmology=uni.cosmology,
                                   weights=w)
        sig_all.append(sig)
        lm_all.append(cat.log_mass)
        w_all.append(w)
    sig_all = np.concatenate(sig_all)
    lm_all = np.concatenate(lm_all)
    w_all = np.concatenate(w_all)
    evrard["all"] = fit_msigma(lm_all, sig_all, redshift=z, cosmology=uni.cosmology,
                               weights=w_all)
    evrard["all_unweighted"] = fit_msigma(lm_all, sig_all, redshift=z, cosmology=uni.cosmology)
    n_all = np.concatenate([cats[("pure", s)].n_galaxies for s in ("train", "test")])
    rich20 = n_all >= 20
    evrard["all_n_ge_20"] = fit_msigma(lm_all[rich20], sig_all[rich20], redshift=z,
                                       cosmology=uni.cosmology, weights=w_all[rich20])
    evrard["reference"] = {"sigma_15": EVRARD_SIGMA15, "slope": EVRARD_ALPHA,
                           "source": "Evrard et al. 2008, ApJ 672, 122"}
    summary["evrard"] = evrard
    # interloper fractions
    fr = {split: interloper_fractions(cats[("contaminated", split)])
          for split in ("train", "test")}
    summary["interloper_fraction"] = {k: _table_rows(v) for k, v in fr.items()}
    # Mamon et al. (2010)
    stack = stack_interloper_density(cats[("contaminated", "train")], log_mass_min=14.0)
    comp = compare_mbm10(stack)
    summary["mbm10"] = {**comp, "n_clusters": stack["n_clusters"],
                        "log_mass_min": stack["log_mass_min"],
                        "g": stack["g"].tolist(), "x": stack["x"].tolist(),
                        "source": "Mamon, Biviano & Murante 2010, A&A 520, A30"}
    # richness
    rich = fit_richness(cats[("contaminated", "train")])
    summary["richness"] = {**rich, "input_N_15": uni.richness_15,
                           "input_slope": uni.richness_slope}
    # figures
    figs = {
        "fig1_cluster.png": plot_cluster(cats[("pure", "train")],
                                         cats[("contaminated", "train")]),
        "fig2_mass_functions.png": plot_mass_functions(cats),
        "sigma_mass.png": plot_sigma_mass(lm_all, sig_all, evrard["all"], redshift=z),
        "interloper_fraction.png": plot_interloper_fractions(
            {"train": fr["train"], "test": fr["test"]}),
        "interloper_density.png": plot_interloper_density(stack, comp),
        "richness_mass.png": plot_richness(cats[("contaminated", "train")], rich, uni),
    }
    plt = pyplot()
    for name, fig in figs.items():
        fig.savefig(out / name, dpi=110, metadata={"Software": None})
        plt.close(fig)
    summary["figures"] = list(figs)
    write_json_atomic(json_safe(summary, nonfinite=False), out / "summary.json", indent=1,
                      sort_keys=True)
    if docs_dir:
        d = pathlib.Path(os.fspath(docs_dir))
        d.mkdir(parents=True, exist_ok=True)
        for name in figs:
            shutil.copyfile(out / name, d / name)
        shutil.copyfile(out / "summary.json", d / "summary.json")
    log.info(f"mock validation written to {out}")
    return summary

