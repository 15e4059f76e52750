"""The ``clustermass mock`` and ``clustermass mock-validate`` subcommands.

``clustermass.cli`` registers them with `add_mock_parser`::

    clustermass mock --kind {pure,contaminated} --split {train,test} --n N --seed S
                     --output FILE [--jobs J] [--overwrite] [--set NAME=VALUE ...]
    clustermass mock-validate --output DIR [--n-train N] [--n-test N] [--seed S]
                              [--jobs J] [--catalogues DIR] [--docs DIR]
"""

import json

from ..exceptions import InvalidInputError

__all__ = ["add_mock_parser", "run_mock", "run_mock_validate"]


def _parse_set(items):
    """``NAME=VALUE`` overrides of `SyntheticUniverse` parameters (VALUE parsed as JSON)."""
    from .universe import SyntheticUniverse

    names = set(SyntheticUniverse.parameter_names())
    out = {}
    for item in items or []:
        if "=" not in item:
            raise InvalidInputError(f"--set expects NAME=VALUE, got {item!r}")
        name, value = item.split("=", 1)
        name = name.strip()
        if name not in names:
            raise InvalidInputError(f"unknown mock parameter {name!r}; see"
                                    " clustermass.mocks.SyntheticUniverse().describe()")
        try:
            out[name] = json.loads(value)
        except ValueError:
            out[name] = value
    return out


def add_mock_parser(subparsers):
    """Add the ``mock`` and ``mock-validate`` subcommands to an argparse ``subparsers``."""
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
    p.set_defaults(func=run_mock)

    v = subparsers.add_parser(
        "mock-validate", help="validate the mocks (figures and JSON summary)",
        description="Generate pure/contaminated training/test catalogues and compare them with"
                    " Evrard et al. (2008), Mamon et al. (2010) and the input richness"
                    " relation; write figures and summary.json.",
    )
    from .validation import build_parser

    build_parser(v)
    v.set_defaults(func=run_mock_validate)
    return p, v


def run_mock(args):
    """Handler of ``clustermass mock``."""
    from .catalogue import generate, load

    params = _parse_set(args.params)
    path = generate(args.output, kind=args.kind, split=args.split, n_clusters=args.n,
                    seed=args.seed, jobs=args.jobs, overwrite=args.overwrite, **params)
    cat = load(path)
    print(f"wrote {path}: {len(cat)} {args.kind} {args.split} clusters,"
          f" {len(cat.galaxies)} galaxies (seed {args.seed})")
    return 0


def run_mock_validate(args):
    """Handler of ``clustermass mock-validate``."""
    from .validation import _run_from_args

    return _run_from_args(args)
