#!/usr/bin/env python
"""Validate the synthetic-universe mock catalogues (figures + JSON summary).

Same as ``clustermass mock-validate`` (this script runs it). The figures of the
user guide were made with::

    python scripts/validate_mocks.py --output mock_validation --n-train 6000 --n-test 6000 \
        --seed 2020 --jobs 2 --docs docs/_static/mocks
"""

import sys

from clustermass.cli import main

if __name__ == "__main__":
    sys.exit(main(["mock-validate", *sys.argv[1:]]))
