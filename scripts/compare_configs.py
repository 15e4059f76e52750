"""Train a variant of a flow configuration and print its headline validation metrics.

Usage::

    python scripts/compare_configs.py TRAIN TEST [--config default] [--set NAME=VALUE ...]
                                      [--seed 0] [--save DIR]

TRAIN and TEST are catalogues from ``clustermass mock``. ``--set`` overrides a
`clustermass.flow.FlowConfig` field (values are read as JSON, e.g.
``--set augment_thin=[0.75,1.0] --set pool=2 --set augment_thin=null``). The
script trains with the same call as ``clustermass train`` (same seed, hosts kept
together in the validation split), then prints one JSON object: the best
validation loss, and on TEST, for the flat and the mass-function prior, bias,
scatter (overall and at log M >= 14.8), sigma_sys of eq. 8, coverage of the 68 %
and 95 % intervals (overall and per log-mass bin) and mean NLL, and the mean
shift of the posterior mean, in posterior sigmas, when the galaxies of the
first 2000 test clusters are thinned to 70 %. The design choices of the
``default`` configuration (docs/user_guide/validation.rst) were made with it.
"""

import argparse
import json
import time

from clustermass import mocks
from clustermass.exceptions import InvalidInputError
from clustermass.flow import FlowConfig, MassFlow, parse_config_override
from clustermass.validation import thinning_shift
from clustermass.workflows import evaluate_models


def build_config(name, overrides=()):
    """The `FlowConfig` preset ``name`` with ``NAME=VALUE`` overrides (values read as JSON)."""
    return FlowConfig.preset(name, **dict(map(parse_config_override, overrides)))


def metrics(flow, test, n_thin=2000, seed=0):
    out = {}
    for prior in ("flat", "mass_function"):
        results = evaluate_models({"flow": flow}, test, prior=prior, msigma=False)
        h = results.headline("flow")
        pb = results.estimators["flow"]["per_bin"]
        out[prior] = {
            "bias": h["bias"], "scatter": h["scatter"],
            "scatter_logM_ge_14.8": h["scatter_high_mass"], "sigma_sys": h["sigma_sys"],
            "coverage_68": h["coverage_68"], "coverage_95": h["coverage_95"],
            "mean_nll": h["mean_nll"],
            "per_bin": {k: [round(float(x), 3) for x in pb[k]]
                        for k in ("lo", "n", "bias", "scatter", "coverage_68", "coverage_95")},
        }
    shift = thinning_shift(flow, test, 0.7, n=n_thin, seed=seed)
    out["thin_0.7_mean_shift_sigma"] = shift["mean_shift_sigma"]
    out["thin_0.7_mean_abs_shift_sigma"] = shift["mean_abs_shift_sigma"]
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("train")
    p.add_argument("test")
    p.add_argument("--config", default="default", choices=["default", "paper"])
    p.add_argument("--set", dest="overrides", action="append", default=[],
                   metavar="NAME=VALUE")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--save", metavar="DIR", help="also save the trained model here")
    args = p.parse_args(argv)
    try:
        config = build_config(args.config, args.overrides)
    except InvalidInputError as exc:
        p.error(str(exc))
    train = mocks.load(args.train)
    flow = MassFlow(config)
    t0 = time.perf_counter()
    # Progress bar (with the losses) on stderr; the JSON result goes to stdout.
    z = {"redshift": train.redshift} if flow.conditions_on_redshift else {}
    history = flow.fit(train.histograms(flow.grid), train.log_mass, groups=train.host_id,
                       seed=args.seed, **z)
    seconds = time.perf_counter() - t0
    if args.save:
        flow.save(args.save)
    out = {"train": args.train, "test": args.test, "config": config.to_dict(),
           "train_seconds": round(seconds, 1), "best_update": history["best_update"],
           "best_val_loss": history["best_val_loss"]}
    out.update(metrics(flow, mocks.load(args.test), seed=args.seed))
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
