"""The ``clustermass`` command line.

Subcommands::

    clustermass infer NAME [--method M] [--json] [--plot FILE]   weigh one cluster
    clustermass mock ...        make a mock catalogue
    clustermass train ...       train a flow on a mock catalogue
    clustermass evaluate ...    validate a model on held-out mocks
    clustermass table1 ...      the paper's Table 1

Errors that clustermass raises on purpose are printed as one line on stderr
(exit status 2), never as a traceback.
"""

import argparse
import json
import sys
import warnings

from .exceptions import ClusterMassError

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


def _resolve_method(method):
    import os

    from . import core

    if method is None:
        return core.DEFAULT_MODEL
    if os.path.isdir(method):
        from .flow import MassFlow

        return MassFlow.load(method)
    return method


def _run_infer(args):
    from .core import ClusterMass

    target = _parse_target(args.name)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cluster = ClusterMass.from_ned(target, redshift=args.redshift, offline=args.offline)
        model = _resolve_method(args.method)
        post = cluster.infer(model, seed=args.seed)
    for w in caught:
        print(f"clustermass: warning: {w.message}", file=sys.stderr)
    summary = post.summary()
    result = {
        "cluster": cluster.name or args.name,
        "method": post.method,
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
        print(f"  method: {result['method']}; galaxies in window: {result['n_galaxies']};"
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


def _optional(add, subparsers, module):
    """Register a subcommand defined in another module, if that module exists."""
    import importlib

    try:
        mod = importlib.import_module(module, __package__)
    except ImportError:
        return
    getattr(mod, add)(subparsers)


def build_parser():
    """The `argparse.ArgumentParser` of the ``clustermass`` command."""
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="clustermass",
        description="Dynamical masses of galaxy clusters with neural flows"
                    " (Kodi Ramanah et al. 2020).",
    )
    parser.add_argument("--version", action="version", version=f"clustermass {__version__}")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bars or logs")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_infer(subparsers)
    return parser


def main(argv=None):
    """Entry point of the ``clustermass`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 1
    from . import conf, log

    if args.quiet:
        conf.show_progress = False
        log.setLevel("WARNING")
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
