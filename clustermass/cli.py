"""The ``clustermass`` command line.

Subcommands::

    clustermass infer NAME [--method M] [--json] [--plot FILE]   weigh one cluster
    clustermass mock ...          make a mock catalogue
    clustermass mock-validate ... validate the mocks (figures and JSON summary)
    clustermass train ...         train a flow on a mock catalogue
    clustermass evaluate ...      validate a model on held-out mocks
    clustermass table1 ...        the paper's Table 1
    clustermass survey CLUSTERS GALAXIES --output OUT   weigh a catalogue of clusters
    clustermass stress MODEL ...  the stress suite: nuisance-shifted mocks, thinned real fields

This module only parses arguments and prints; the work is done by the
library (`clustermass.core`, `clustermass.mocks`) and `clustermass.workflows`,
imported when a subcommand runs. Errors that clustermass raises on purpose are
printed as one line on stderr (exit status 2), never as a traceback.
"""

import argparse
import json
import sys

from .exceptions import ClusterMassError
from .priors import PRIORS

__all__ = ["main", "build_parser"]


def _add_infer(subparsers):
    p = subparsers.add_parser(
        "infer", help="infer the mass of a cluster",
        description="Infer log10[M200c / (h^-1 Msun)] of a cluster from its galaxies in NED"
                    " (or the offline snapshot shipped for it).",
    )
    p.add_argument("name", help="cluster name (e.g. Coma, A1689) or 'RA,Dec' in degrees")
    p.add_argument("--redshift", "-z", type=float, default=None,
                   help="cluster redshift (required with coordinates)")
    p.add_argument("--method", default=None,
                   help="'msigma', 'contaminated', 'pure' or a model directory"
                        " (default: the shipped contaminated flow when present, else msigma)")
    p.add_argument("--offline", action="store_true", help="use the shipped snapshot, no NED")
    p.add_argument("--prior", default=None, choices=PRIORS,
                   help="prior on log M of a flow's posterior (default: flat, as in training)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--plot", metavar="FILE", help="save the posterior and phase space plot")
    p.add_argument("--seed", type=int, default=0, help="seed of random steps (default 0)")
    p.set_defaults(func=_run_infer)


def _parse_target(name):
    from astropy.coordinates import SkyCoord

    if "," in name:
        try:
            ra, dec = (float(x) for x in name.split(","))
        except ValueError:
            return name
        return SkyCoord(ra, dec, unit="deg")
    return name


def _run_infer(args):
    from .core import ClusterMass
    from .workflows import load_model

    target = _parse_target(args.name)
    # Warnings (e.g. an offline snapshot used in place of NED) go to stderr.
    cluster = ClusterMass.from_ned(target, redshift=args.redshift, offline=args.offline)
    model = load_model(args.method)
    post = cluster.infer(model, prior=args.prior, seed=args.seed)
    summary = post.summary()
    result = {
        "cluster": cluster.name or args.name,
        "method": post.method,
        "prior": post.meta.get("prior"),
        "log10_m200c": round(summary["log10_m200c"], 4),
        "log10_m200c_std": round(summary["log10_m200c_std"], 4),
        "log10_m200c_median": round(summary["log10_m200c_median"], 4),
        "log10_m200c_interval_68": [round(summary["log10_m200c_16"], 4),
                                    round(summary["log10_m200c_84"], 4)],
        "n_galaxies": post.meta.get("n_galaxies"),
        "source": cluster.source,
        "redshift": cluster.redshift,
    }
    if args.json:
        print(json.dumps(result))
    else:
        lo, hi = result["log10_m200c_interval_68"]
        print(f"{result['cluster']}: log10[M200c / (h^-1 Msun)] = "
              f"{result['log10_m200c']:.2f} +- {result['log10_m200c_std']:.2f}"
              f"  (68% interval {lo:.2f} - {hi:.2f})")
        prior = f" ({result['prior']} prior)" if result["prior"] else ""
        print(f"  method: {result['method']}{prior}; galaxies in window: {result['n_galaxies']};"
              f" z = {cluster.redshift:.4f}")
        print(f"  source: {result['source']}")
    if args.plot:
        _plot_infer(cluster, post, args.plot)
    return 0


def _plot_infer(cluster, post, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from . import clusters

    reference = None
    if cluster.name:
        try:
            ref = clusters.get_cluster(cluster.name)
            reference = (float(ref["log_m200c_lit"]), float(ref["log_m200c_lit_err"]))
        except (ClusterMassError, KeyError):
            reference = None
    fig = plt.figure(figsize=(13, 3.8), layout="constrained")
    left, right = fig.subfigures(1, 2, width_ratios=[2, 1])
    cluster.plot_phase_space(fig=left)
    ax = right.subplots()
    post.plot(ax, reference=reference)
    ax.set_title(f"{cluster.name or ''} {post.method}")
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _add_mock(subparsers):
    p = subparsers.add_parser(
        "mock", help="make a mock catalogue",
        description="Generate mock clusters from the synthetic universe and observe them as"
                    " Ho et al. (2019): cylinders of 1.6 h^-1 Mpc and +-2500 km/s around each"
                    " host. 'train' is flat in log M (extra lines of sight for rare hosts),"
                    " 'test' follows the mass function. The same seed gives the same file"
                    " for any --jobs.",
    )
    p.add_argument("--kind", required=True, choices=["pure", "contaminated"],
                   help="true members only, or every galaxy in the cylinder")
    p.add_argument("--split", required=True, choices=["train", "test"],
                   help="flat in log M (train) or following the mass function (test)")
    p.add_argument("--n", required=True, type=int, metavar="N", help="number of clusters")
    p.add_argument("--seed", required=True, type=int, metavar="S", help="master seed")
    p.add_argument("--output", "-o", required=True, metavar="FILE", help="HDF5 file to write")
    p.add_argument("--jobs", "-j", type=int, default=1, metavar="J",
                   help="worker processes (default 1)")
    p.add_argument("--overwrite", action="store_true", help="replace FILE if it exists")
    p.add_argument("--set", action="append", metavar="NAME=VALUE", dest="params",
                   help="override a SyntheticUniverse parameter (repeatable)")
    p.set_defaults(func=_run_mock)


def _run_mock(args):
    from .mocks import SyntheticUniverse, generate, load

    params = SyntheticUniverse.parse_overrides(args.params)
    path = generate(args.output, kind=args.kind, split=args.split, n_clusters=args.n,
                    seed=args.seed, jobs=args.jobs, overwrite=args.overwrite, **params)
    cat = load(path)
    print(f"wrote {path}: {len(cat)} {args.kind} {args.split} clusters,"
          f" {len(cat.galaxies)} galaxies (seed {args.seed})")
    return 0


def _add_mock_validate(subparsers):
    p = subparsers.add_parser(
        "mock-validate", help="validate the mocks (figures and JSON summary)",
        description="Generate pure/contaminated training/test catalogues and compare them with"
                    " Evrard et al. (2008), Mamon et al. (2010) and the input richness"
                    " relation; write figures and summary.json.",
    )
    p.add_argument("--output", "-o", required=True, help="output directory")
    p.add_argument("--n-train", type=int, default=4000,
                   help="clusters per training catalogue (default %(default)s)")
    p.add_argument("--n-test", type=int, default=4000,
                   help="clusters per test catalogue (default %(default)s)")
    p.add_argument("--seed", type=int, default=2020, help="seed (default %(default)s)")
    p.add_argument("--jobs", "-j", type=int, default=1, help="worker processes")
    p.add_argument("--catalogues", metavar="DIR", default=None,
                   help="where to keep the catalogues (default OUTPUT/catalogues)")
    p.add_argument("--docs", metavar="DIR", default=None,
                   help="also copy the figures here (e.g. docs/_static/mocks)")
    p.set_defaults(func=_run_mock_validate)


def _run_mock_validate(args):
    from .mocks.report import run_validation

    s = run_validation(args.output, n_train=args.n_train, n_test=args.n_test, seed=args.seed,
                       jobs=args.jobs, catalogue_dir=args.catalogues, docs_dir=args.docs)
    ev = s["evrard"]["all"]
    mb = s["mbm10"]
    print(f"Evrard (pure, train+test, one weight per host): slope {ev['slope']:.3f}"
          f" +- {ev['slope_err']:.3f}, sigma_15 {ev['sigma_15']:.0f} km/s"
          f" ({ev['normalisation_ratio']:.3f} x 1082.9)")
    ev20 = s["evrard"]["all_n_ge_20"]
    print(f"Evrard (pure, N >= 20): slope {ev20['slope']:.3f} +- {ev20['slope_err']:.3f},"
          f" sigma_15 {ev20['sigma_15']:.0f} km/s ({ev20['normalisation_ratio']:.3f} x 1082.9)")
    print(f"MBM10 (contaminated train, log M >= 14): scale {mb['scale']:.2f}, rms ln residual"
          f" {mb['rms_log_residual']:.2f}, sigma_i {mb['sigma_i']:.2f}"
          f" (MBM10 {mb['sigma_i_mbm10']:.2f}), B {mb['B']:.4f} (0.0075)")
    for split, rows in s["interloper_fraction"].items():
        print(f"interloper fraction ({split}): " + ", ".join(
            f"[{r['log_m_min']:.1f},{r['log_m_max']:.1f}) {r['mean']:.2f}" for r in rows))
        print("  in the virial cylinder: " + ", ".join(
            f"{r['virial_cylinder']:.2f}" for r in rows))
    print(f"wrote {args.output}/summary.json and {len(s['figures'])} figures")
    return 0


def _add_train(subparsers):
    p = subparsers.add_parser(
        "train", help="train a flow on a mock catalogue",
        description="Train a conditional flow on a mock catalogue (made by 'clustermass mock')."
                    " An interrupted run resumes from its checkpoints when run again.",
    )
    p.add_argument("mocks", help="training catalogue (HDF5 from 'clustermass mock')")
    p.add_argument("--config", default="default", choices=["default", "paper"],
                   help="flow configuration (default: %(default)s)")
    p.add_argument("--output", "-o", required=True, help="model directory to write")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--max-updates", type=int, default=None,
                   help="stop after this many updates (default: the config's)")
    p.add_argument("--set", dest="overrides", action="append", default=[],
                   metavar="NAME=VALUE",
                   help="override a FlowConfig field of the configuration, the value read"
                        " as JSON (e.g. --set marginals=true --set augment_thin=[0.75,1.0]);"
                        " repeatable")
    p.set_defaults(func=_run_train)


def _run_train(args):
    from ._parsing import parse_overrides
    from .flow import FlowConfig
    from .workflows import train_from_catalogue

    kwargs = {} if args.max_updates is None else {"max_updates": args.max_updates}
    config = args.config
    if args.overrides:
        config = FlowConfig.preset(config, **parse_overrides(args.overrides))
    flow = train_from_catalogue(args.mocks, config=config, output=args.output,
                                seed=args.seed, **kwargs)
    print(f"wrote {args.output}: {flow!r}")
    return 0


def _add_evaluate(subparsers):
    p = subparsers.add_parser(
        "evaluate", help="validate models on held-out mocks",
        description="Evaluate flows and M-sigma on the same held-out mock clusters: scatter"
                    " per mass bin, the eq. 8 fit, coverage, PIT and NLL.",
    )
    p.add_argument("model", help="model directory, or 'contaminated'/'pure' for a shipped one")
    p.add_argument("mocks", help="test catalogue (HDF5 from 'clustermass mock --split test')")
    p.add_argument("--compare", nargs="*", default=[], metavar="MODEL",
                   help="more models to evaluate on the same clusters")
    p.add_argument("--no-msigma", action="store_true", help="skip the M-sigma baseline")
    p.add_argument("--prior", default="flat", choices=PRIORS,
                   help="prior of the flow posteriors (default: %(default)s, as 'infer')")
    p.add_argument("--thin", nargs="+", type=float, metavar="P",
                   help="first thin the test clusters' galaxies at random: keep each with"
                        " probability P, or with a probability drawn per cluster in"
                        " [LO, HI] when two values are given (e.g. --thin 0.5 1)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the thinning (default %(default)s)")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    p.add_argument("--figures", metavar="DIR", help="write the validation figures here")
    p.set_defaults(func=_run_evaluate)


def _run_evaluate(args):
    from .workflows import evaluate_models

    results = evaluate_models([args.model, *args.compare], args.mocks, prior=args.prior,
                              msigma=not args.no_msigma, thin=args.thin, seed=args.seed)
    if args.json:
        print(json.dumps(results.to_json_dict(), indent=1))
    else:
        results.report_table().pprint(max_width=-1, max_lines=-1)
        for label, m in results.estimators.items():
            print(f"\n{label}: per log-mass bin")
            m["per_bin"].pprint(max_width=-1, max_lines=-1)
    if args.figures:
        _write_validation_figures(results, args.figures)
    return 0


def _write_validation_figures(results, directory):
    import os

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from . import plotting

    os.makedirs(directory, exist_ok=True)
    estimators, truth = results.estimators, results.truth
    figs = {
        "fig5_prediction_bands.png": plotting.plot_prediction_bands(estimators, truth),
        "fig6_scatter_vs_members.png": plotting.plot_scatter_vs_members(
            estimators, results.n_members, truth),
        "calibration.png": plotting.plot_calibration(estimators),
    }
    for name, fig in figs.items():
        fig.savefig(os.path.join(directory, name), dpi=110)
        plt.close(fig)
    print(f"figures written to {directory}", file=sys.stderr)


def _add_table1(subparsers):
    p = subparsers.add_parser(
        "table1", help="the paper's Table 1: masses of eight real clusters",
        description="Weigh the eight clusters of Kodi Ramanah et al. (2020, Table 1) and list"
                    " our flow mass next to the paper's and the literature's.",
    )
    p.add_argument("--method", default="contaminated",
                   help="model ('contaminated', 'pure', a directory) or 'msigma'")
    p.add_argument("--offline", action="store_true", help="only the shipped snapshots")
    p.add_argument("--prior", default=None, choices=PRIORS,
                   help="prior on log M of the flow posteriors (default: flat, as in training)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--plot", metavar="FILE", help="draw the paper's Fig. 7 for these clusters")
    p.set_defaults(func=_run_table1)


def _run_table1(args):
    import math

    from .workflows import table1

    t = table1(args.method, offline=args.offline, prior=args.prior)
    if args.json:
        print(json.dumps([{k: (None if isinstance(v, float) and math.isnan(v) else v)
                           for k, v in zip(t.colnames, (x.item() if hasattr(x, "item") else x
                                                        for x in row), strict=True)}
                          for row in t]))
    else:
        t.pprint(max_width=-1, max_lines=-1)
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from .plotting import plot_table1

        fig = plot_table1(t)
        fig.savefig(args.plot, dpi=120)
        plt.close(fig)
    return 0


def _add_stress(subparsers):
    from .stress import STRESS_SETS

    p = subparsers.add_parser(
        "stress", help="the stress suite: nuisance-shifted mocks and thinned real fields",
        description="Evaluate a flow on seeded test catalogues, each with one nuisance"
                    " parameter fixed (galaxy counts, interlopers, anisotropy, redshift,"
                    " velocity bias), and thin the galaxies of Coma and A1689 at random;"
                    " print bias, scatter, rms, coverage and PASS/FAIL per target. The exit"
                    " status is 0 even when targets fail.",
    )
    p.add_argument("model", help="model directory, or 'contaminated'/'pure' for a shipped one")
    p.add_argument("--n", type=int, default=5000, metavar="N",
                   help="clusters per test set (default %(default)s)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="seed (default 0)")
    p.add_argument("--jobs", "-j", type=int, default=1, metavar="J",
                   help="worker processes of the mock generator (default 1)")
    p.add_argument("--sets", nargs="+", metavar="NAME", choices=list(STRESS_SETS),
                   help="only these sets (default all: " + ", ".join(STRESS_SETS) + ")")
    p.add_argument("--kind", choices=["contaminated", "pure"], default=None,
                   help="mock kind (default: the kind the model was trained on)")
    p.add_argument("--draws", type=int, default=20, metavar="D",
                   help="random thinnings per real cluster and fraction (default 20)")
    p.add_argument("--no-thinning", action="store_true", help="skip the real-cluster thinning")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--save-json", metavar="FILE", default=None,
                   help="also write the JSON object to FILE (atomically), whatever is printed")
    p.set_defaults(func=_run_stress)


def _run_stress(args):
    from .stress import run_stress, stress_summary, thinning_shifts, to_json_dict

    sets = run_stress(args.model, n=args.n, seed=args.seed, kind=args.kind, sets=args.sets,
                      jobs=args.jobs)
    thin = None if args.no_thinning else thinning_shifts(args.model, n_draws=args.draws,
                                                         seed=args.seed)
    if args.save_json:
        from ._io import write_json_atomic

        write_json_atomic(to_json_dict(sets, thin), args.save_json, indent=1, sort_keys=False)
    if args.json:
        print(json.dumps(to_json_dict(sets, thin), indent=1))
        return 0
    meta = sets.meta
    print(f"stress suite: model {meta['model']} ({meta['model_config']}), {meta['kind']}"
          f" test sets of {meta['n']} clusters, seed {meta['seed']}, flat prior")
    cols = ["set", "target", "n", "bias", "scatter", "rms", "cov68", "cov95", "n_high",
            "bias_high", "rms_high", "cov68_high", "cov95_high", "bias_expected",
            "bias_ok", "bias_high_ok", "cov68_ok", "cov95_ok"]
    sets[cols].pprint(max_width=-1, max_lines=-1)
    for row in sets:
        if row["status"] != "ok":
            print(f"  {row['set']}: {row['status']}")
    print(f"  (_high: log M >= {meta['high_mass']}; targets: |bias| <="
          f" {meta['targets']['bias_max']}, cov68 in {list(meta['targets']['cov68_range'])},"
          f" cov95 >= {meta['targets']['cov95_min']})")
    if thin is not None:
        print("\nthinning of the real fields (shift of the posterior mean in sigmas of the"
              " full field):")
        thin["cluster", "fraction", "n_draws", "n_galaxies", "n_galaxies_thinned", "log_m",
             "log_m_std", "mean_shift_sigma", "shift_err_sigma", "shift_spread_sigma",
             "std_ratio", "n_warned", "max_shift", "shift_ok"].pprint(max_width=-1,
                                                                      max_lines=-1)
    s = stress_summary(sets, thin)
    failed = ", ".join(s["failed"]) or "none"
    unavailable = ", ".join(s["unavailable"]) or "none"
    print(f"\nsummary: {s['n_pass']} of {s['n_targets']} targets met; failed: {failed};"
          f" unavailable: {unavailable}")
    return 0


def _add_survey(subparsers):
    p = subparsers.add_parser(
        "survey", help="weigh every cluster of a catalogue",
        description="Weigh each cluster of a table (name, ra, dec, redshift) with the galaxies"
                    " of another table (ra, dec, redshift or cz) and write one row per cluster:"
                    " mass summaries, galaxies in the window, flags and a reason. Tables in"
                    " any format astropy reads (FITS, ECSV, CSV, ...), guessed from the"
                    " extension.",
    )
    p.add_argument("clusters", help="table of clusters")
    p.add_argument("galaxies", help="table of galaxies")
    p.add_argument("--output", "-o", required=True, metavar="FILE",
                   help="table to write (format from the extension, or --format)")
    p.add_argument("--model", default=None,
                   help="'contaminated' (default), 'pure', 'msigma' or a model directory")
    p.add_argument("--prior", default=None, choices=PRIORS,
                   help="prior on log M of flow posteriors (default: flat, as in training)")
    p.add_argument("--format", default=None, metavar="FMT",
                   help="astropy table format of FILE (e.g. fits, ascii.ecsv)")
    p.add_argument("--chunk", type=int, default=None, metavar="N",
                   help="clusters matched and weighed together (default 1000)")
    p.add_argument("--seed", type=int, default=0, help="seed of the M-sigma bootstrap")
    p.add_argument("--overwrite", action="store_true", help="replace FILE if it exists")
    p.set_defaults(func=_run_survey)


def _run_survey(args):
    from .survey import weigh_catalogue_files

    kwargs = {} if args.chunk is None else {"chunk": args.chunk}
    t = weigh_catalogue_files(args.clusters, args.galaxies, args.output,
                              overwrite=args.overwrite, format=args.format, model=args.model,
                              prior=args.prior, seed=args.seed, **kwargs)
    m = t.meta
    print(f"wrote {args.output}: {m['n_clusters']} clusters, {m['n_weighed']} weighed"
          f" ({m['method']}); flagged: {m['n_flag_few_galaxies']} too few galaxies,"
          f" {m['n_flag_outside_training_range']} outside the training range,"
          f" {m['n_flag_support_edge']} at the support edge, {m['n_flag_failed']} without mass")
    return 0


def build_parser():
    """The `argparse.ArgumentParser` of the ``clustermass`` command."""
    from ._config import __version__

    parser = argparse.ArgumentParser(
        prog="clustermass",
        description="Dynamical masses of galaxy clusters with neural flows"
                    " (Kodi Ramanah et al. 2020).",
    )
    parser.add_argument("--version", action="version", version=f"clustermass {__version__}")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bars")
    parser.add_argument("--verbose", "-v", action="store_true",
                        help="log what is done (on stdout, so not with --json)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_infer(subparsers)
    _add_mock(subparsers)
    _add_mock_validate(subparsers)
    _add_train(subparsers)
    _add_evaluate(subparsers)
    _add_table1(subparsers)
    _add_survey(subparsers)
    _add_stress(subparsers)
    return parser


def main(argv=None):
    """Entry point of the ``clustermass`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 1
    from ._config import conf
    from .logger import log

    # Keep stdout for results: informational logs only with --verbose.
    log.setLevel("INFO" if args.verbose else "WARNING")
    if args.quiet:
        conf.show_progress = False
    try:
        return args.func(args)
    except ClusterMassError as exc:
        print(f"clustermass: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("clustermass: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
