"""What would an ensemble of flows gain? Metrics of each model and of their average.

Usage::

    python scripts/ensemble_gain.py TEST MODEL MODEL [MODEL ...] [--prior flat]

TEST is a test catalogue (``clustermass mock --split test``); each MODEL a model
directory or ``contaminated``/``pure``, all on the same grid (e.g. the same
configuration trained with different ``--seed``). The ensemble's posterior is
the equal-weight average of the members' densities (a "deep ensemble",
Lakshminarayanan, Pritzel & Blundell 2017). Prints one JSON object with, for
every member and for the ensemble: mean NLL, bias, scatter (overall and at
log M >= 14.8) and the coverage of the 68 % and 95 % intervals.
"""

import argparse
import json

import numpy as np

from clustermass import mocks
from clustermass.cli import _load_model
from clustermass.exceptions import InvalidInputError
from clustermass.posterior import default_log_mass_grid
from clustermass.priors import PRIORS, reweight
from clustermass.validation import evaluate


def _headline(m):
    keys = ("mean_nll", "bias", "scatter", "scatter_logM_ge_14.8", "coverage_68", "coverage_95")
    return {k: (None if np.isnan(m[k]) else float(m[k])) for k in keys}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("test")
    p.add_argument("models", nargs="+")
    p.add_argument("--prior", default="flat", choices=PRIORS)
    args = p.parse_args(argv)
    if len(args.models) < 2:
        p.error("give at least two models")
    flows = [_load_model(m) for m in args.models]
    if any(f.grid != flows[0].grid for f in flows):
        raise InvalidInputError("the models must share one phase-space grid")
    cat = mocks.load(args.test)
    hists = cat.histograms(flows[0].grid)
    truth = np.asarray(cat.log_mass, float)
    n_gal = hists.reshape(len(hists), -1).sum(axis=1)
    grid = default_log_mass_grid()
    out = {"test": args.test, "prior": args.prior, "members": {}}
    total = 0.0
    for spec, flow in zip(args.models, flows, strict=True):
        pdfs = reweight(flow.pdf_grid(hists, grid), grid, args.prior)
        total = total + pdfs
        m = evaluate(truth, n_members=n_gal, pdfs=pdfs, log_mass_grid=grid)
        out["members"][spec] = _headline(m)
    m = evaluate(truth, n_members=n_gal, pdfs=total / len(flows), log_mass_grid=grid)
    out["ensemble"] = _headline(m)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
