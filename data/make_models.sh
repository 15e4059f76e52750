#!/usr/bin/env bash
# Rebuild the shipped flows (clustermass/data/models/{contaminated,pure}) and their
# validation report in docs/_static/validation and docs/_static/stress, from nothing but
# clustermass itself.
#
#   bash data/make_models.sh [WORKDIR]            # everything
#   bash data/make_models.sh --report [WORKDIR]   # only the report, from WORKDIR's files
#
# Wall time on 2 CPU cores (measured 2026-12-03, each step timed with /usr/bin/time; some
# steps shared the machine with other work): the 300,000-cluster training catalogues 6.5
# min (contaminated) and 9 min (pure), the 30,000-cluster test catalogues ~20 s each, the
# training of the contaminated flow 8 min (early stop at update 11,200 of 30,000), of
# the pure flow 15 min (24,300 updates), the paper flow 3 min, the report (evaluations,
# thinning, stress suites, Table 1) 5-10 min; about an hour in all, ~10 GB of memory.
# WORKDIR (default ./build/models) receives the mock catalogues (~2.5 GB) and the models.
# The same seeds give the same catalogues byte for byte and, on a CPU, the same weights.
#
# Training set: 300,000 mock clusters per kind, flat in log M over [12.9, 15.6] (at least
# three posterior widths below the 10^13.5 where the test population starts, so that the
# lower edge of the flat training prior neither pushes test masses up nor widens their
# intervals), each from its own host (train_max_los=1: Ho et al. 2019 view rare hosts
# along many lines of sight because a simulation box holds few of them; the synthetic
# universe can draw as many as needed), with the nuisance parameters drawn per cluster
# from the wide priors (nuisance_priors=robust); test set: 30,000 clusters following the
# mass function above 10^13.5 h^-1 Msun in the nominal universe, from hosts never used in
# training; a second test set follows the mass function down to the training support's
# lower edge, for the calibration of the mass-function prior. The stress suite
# (clustermass stress contaminated) tests the flows with each nuisance fixed.
set -euo pipefail
report_only=0
if [ "${1:-}" = "--report" ]; then report_only=1; shift; fi
work=${1:-build/models}
mkdir -p "$work"
range=(--set log_mass_min=12.9 --set log_mass_max=15.6 --set train_max_los=1)
# The shipped flows marginalise over the nuisance parameters of the synthetic universe
# (galaxy counts x1/8-x8, interlopers x1/3-x3, velocity bias 0.9-1.1, anisotropy 0-0.9,
# z 0.01-0.3; docs/user_guide/mocks.rst): training clusters draw them from the wide priors.
nuisance=(--set nuisance_priors=robust)
# The pure flow also reads the full-resolution radial and velocity marginals (FlowConfig
# .marginals): without interlopers they sharpen its masses (held-out NLL -0.968 against
# -0.918, docs/user_guide/validation.rst); with interlopers they gained nothing. It also
# reads the cluster redshift (FlowConfig.condition_redshift): marginalising over it, its
# narrow posteriors drifted from +0.023 dex at z = 0.03 to -0.036 dex at z = 0.25 and
# under-covered at z = 0.03 (docs/user_guide/stress.rst).
declare -A flow_set=([contaminated]="" [pure]="--set marginals=true --set condition_redshift=true")
if [ "$report_only" = 0 ]; then
for kind in contaminated pure; do
    clustermass mock --kind "$kind" --split train --n 300000 --seed 13 "${range[@]}" \
        "${nuisance[@]}" --jobs 2 --output "$work/${kind}_train.h5" --overwrite
    clustermass mock --kind "$kind" --split test --n 30000 --seed 2 \
        --jobs 2 --output "$work/${kind}_test.h5" --overwrite
    # shellcheck disable=SC2086
    clustermass train "$work/${kind}_train.h5" --config default ${flow_set[$kind]} \
        --output "$work/$kind" --seed 0
done
# Mass-function test clusters down to the support's lower edge (mass-function prior).
clustermass mock --kind contaminated --split test --n 20000 --seed 3 \
    --set log_mass_min=12.9 --jobs 2 --output "$work/contaminated_test_mf.h5" --overwrite
# The paper's configuration on the same training set, for the comparison.
clustermass train "$work/contaminated_train.h5" --config paper --output "$work/paper" --seed 0

# The shipped weights.
for kind in contaminated pure; do
    rm -rf "clustermass/data/models/$kind"
    cp -r "$work/$kind" "clustermass/data/models/$kind"
done
fi

# The validation report of docs/user_guide/validation.rst.
out=docs/_static/validation
mkdir -p "$out"
c_test="$work/contaminated_test.h5"
clustermass -q evaluate contaminated "$c_test" --compare "$work/paper" > "$out/contaminated.txt"
clustermass -q evaluate contaminated "$c_test" --compare "$work/paper" --json \
    --figures "$out/contaminated" > "$out/contaminated.json"
clustermass -q evaluate contaminated "$c_test" --compare "$work/paper" \
    --prior mass_function > "$out/contaminated_mass_function_prior.txt"
# NLL against the paper's configuration at equal depth: every test cluster thinned to a
# random 50-100 % of its galaxies, the same galaxies for both flows.
clustermass -q evaluate contaminated "$c_test" --compare "$work/paper" --thin 0.5 1 \
    --seed 0 > "$out/contaminated_thinned.txt"
# Calibration of the mass-function prior on clusters that follow the mass function over
# the whole training support.
clustermass -q evaluate contaminated "$work/contaminated_test_mf.h5" --no-msigma \
    --prior mass_function > "$out/mass_function_calibration.txt"
clustermass -q evaluate pure "$work/pure_test.h5" > "$out/pure.txt"
clustermass -q evaluate pure "$work/pure_test.h5" --json --figures "$out/pure" > "$out/pure.json"
python scripts/thinning_robustness.py contaminated "$c_test" > "$out/thinning_contaminated.json"
python scripts/thinning_robustness.py "$work/paper" "$c_test" > "$out/thinning_paper.json"
python scripts/information_floor.py "$c_test" "$work/pure_test.h5" > "$out/information_floor.txt"
clustermass -q table1 --offline --plot "$out/table1.png" > "$out/table1.txt"
# The stress suite (docs/user_guide/stress.rst).
mkdir -p docs/_static/stress
for kind in contaminated pure; do
    clustermass -q stress "$kind" --seed 0 --jobs 2 --save-json "docs/_static/stress/$kind.json" \
        > "docs/_static/stress/$kind.txt"
done
