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

from clustermass.priors import PRIORS
from clustermass.workflows import evaluate_models, load_model

#: The output's names of the headline metrics (`EvaluationResults.headline`).
HEADLINE = {"mean_nll": "mean_nll", "bias": "bias", "scatter": "scatter",
            "scatter_high_mass": "scatter_logM_ge_14.8", "coverage_68": "coverage_68",
            "coverage_95": "coverage_95"}


def _headline(results, label):
    h = results.headline(label)
    return {out: (None if np.isnan(h[k]) else float(h[k])) for k, out in HEADLINE.items()}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("test")
    p.add_argument("models", nargs="+")
    p.add_argument("--prior", default="flat", choices=PRIORS)
    args = p.parse_args(argv)
    if len(args.models) < 2:
        p.error("give at least two models")
    flows = [load_model(m) for m in args.models]
    ensemble = f"ensemble of {len(flows)}"
    # Each member under its own label, and the ensemble of them all; the members'
    # posteriors are computed once.
    entries = {i: flow for i, flow in enumerate(flows)}
    entries[ensemble] = flows
    results = evaluate_models(entries, args.test, prior=args.prior, msigma=False,
                              high_mass=14.8)
    out = {"test": args.test, "prior": args.prior, "members": {}}
    for i, spec in enumerate(args.models):
        out["members"][spec] = _headline(results, i)
    out["ensemble"] = _headline(results, ensemble)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
