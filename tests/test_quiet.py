"""Inference prints nothing from TensorFlow (issue #11).

No TensorFlow start-up chatter (absl, oneDNN, CUDA notices), no Python log
records of the ``"tensorflow"`` logger and no "triggered tf.function
retracing" warnings reach a user's terminal, a notebook, or pytest's captured
output. The main check runs in a fresh process, as a user's script would,
with TensorFlow's logger opened at WARNING so that a retracing warning, should
one come back, is printed and fails the test.
"""

import json
import logging
import os
import re
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("tensorflow_probability")

#: What TensorFlow, absl, oneDNN, CUDA and XLA print.
TF_NOISE = re.compile(
    r"tensorflow|retrac|tf\.function|onednn|absl|cuda|cudnn|xla|cpu_feature_guard"
    r"|[IWEF]0000 |This TensorFlow binary|rebuild TensorFlow", re.IGNORECASE)

# Eight clusters with different numbers of galaxies, each inferred four times,
# with both shipped models and both priors; then one batch of a new size.
_SCRIPT = r"""
import json, logging, warnings
import numpy as np
import astropy.units as u

# What a user who wants TensorFlow's warnings would do: retracing is then printed.
logging.getLogger("tensorflow").setLevel(logging.WARNING)
from clustermass import ClusterMass
from clustermass.exceptions import ClusterMassWarning
from clustermass.flow import MassFlow
from clustermass.phasespace import R_UNIT

warnings.simplefilter("ignore", ClusterMassWarning)  # the toy clusters' own warnings
rng = np.random.default_rng(0)
clusters = [ClusterMass.from_phase_space(rng.uniform(0, 1.5, n) * R_UNIT,
                                         rng.normal(0, 800, n) * u.km / u.s, redshift=0.117)
            for n in (20, 35, 60, 90, 140, 200, 300, 450)]
for _ in range(4):
    for c in clusters:
        c.infer()
        c.infer("pure", prior="mass_function")
flow = MassFlow.pretrained("contaminated")
flow.posteriors(np.stack([c.histogram(flow.grid) for c in clusters[:5]]))
print("COUNTS " + json.dumps({k: MassFlow.pretrained(k)._network.tracing_count()
                              for k in ("contaminated", "pure")}))
"""


def _noise(text):
    return [line for line in text.splitlines() if TF_NOISE.search(line)]


def test_inference_loop_prints_nothing_from_tensorflow():
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_")}
    out = subprocess.run([sys.executable, "-c", _SCRIPT], capture_output=True, text=True,
                         env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert not _noise(out.stderr), "\n".join(_noise(out.stderr))
    lines = out.stdout.splitlines()
    assert not _noise("\n".join(lines[:-1])), lines
    counts = json.loads(lines[-1].removeprefix("COUNTS "))
    # 64 single-cluster calls and a batch: each model's density traced once.
    assert counts["contaminated"]["log_prob_grid"] == 1, counts
    assert counts["pure"]["log_prob_grid"] == 1, counts


def test_inference_in_pytest_leaves_no_tensorflow_output(capfd, caplog, recwarn):
    from clustermass.exceptions import ClusterMassWarning
    from clustermass.flow import MassFlow
    from clustermass.phasespace import PhaseSpaceGrid

    caplog.set_level(logging.DEBUG)
    rng = np.random.default_rng(1)
    flow = MassFlow.pretrained("contaminated")
    for n in (1, 3, 7, 2, 5, 11):  # batches of new sizes
        hists = rng.poisson(0.05, (n, *PhaseSpaceGrid().shape)).astype(float)
        flow.pdf_grid(hists)
    captured = capfd.readouterr()
    assert not _noise(captured.out + captured.err), captured
    assert not [r for r in caplog.records if r.name.startswith("tensorflow")
                or r.name.startswith("absl") and r.levelno >= logging.WARNING]
    assert not [w for w in recwarn if not issubclass(w.category, ClusterMassWarning)], [
        str(w.message) for w in recwarn]


def test_tensorflow_logger_is_quiet_unless_the_user_chose_a_level():
    from clustermass.flow._network import quiet_tensorflow_logger, tf_modules

    tf_modules()
    assert logging.getLogger("tensorflow").getEffectiveLevel() >= logging.ERROR or (
        logging.getLogger("tensorflow").level != logging.NOTSET)
    fresh = logging.Logger("tensorflow-like")
    assert quiet_tensorflow_logger(fresh).level == logging.ERROR
    chosen = logging.Logger("tensorflow-like")
    chosen.setLevel(logging.INFO)
    assert quiet_tensorflow_logger(chosen).level == logging.INFO
