"""Shared test helpers: the repository root and the command line as a user runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def run_cli(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run ``mkba-sim ARGS`` in a fresh interpreter from the repository root."""
    return subprocess.run(
        [sys.executable, "-m", "mkba_sim.cli", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=timeout,
    )


# Small models shared by several test files (the same structures compile to the same
# kernels, so files that use them share the compiled code).

NORMALS = """
[model]
title = "two normals"
price_year = 2020
horizon_years = 1
discount_rate = 0.0

[parameters.a]
dist = "normal"
mean = 1000
sd = 300
published = 1000
source = "test"

[parameters.b]
dist = "normal"
mean = 800
sd = 400
published = 800
source = "test"

[[items]]
name = "gain"
side = "benefit"
stakeholder = "x"
value = "a"
years = [1]

[[items]]
name = "cost"
side = "cost"
stakeholder = "y"
value = "b"
years = [1]
"""
"""Two independent normals, a benefit and a cost: net ~ Normal(200, 500)."""

SQRT = """
[model]
title = "sqrt of a normal"
price_year = 2020
horizon_years = 1
{policy}

[parameters.x]
dist = "normal"
mean = {mean}
sd = 1
published = 1
source = "test"

[derived]
rate = "sqrt(x)"

[[items]]
name = "gain"
side = "benefit"
stakeholder = "society"
value = "1500 * rate"
years = [1]

[[items]]
name = "cost"
side = "cost"
stakeholder = "society"
value = 1000
years = [1]
"""
"""sqrt of a Normal(``mean``, 1) input: non-finite where the draw is negative (format
with ``policy``, e.g. ``'non_finite = "drop"'`` or ``""``, and ``mean``)."""

CORRELATED = (
    NORMALS
    + """
[[correlations]]
names = ["a", "b"]
matrix = [[1.0, 0.6], [0.6, 1.0]]
"""
)
"""The two normals with a Gaussian copula, correlation 0.6."""

POSTERIOR = """
[model]
title = "posterior"
price_year = 2020
horizon_years = 1

[parameters.x]
dist = "posterior"
file = "post.nc"
variable = "x"
source = "test"

[parameters.y]
dist = "posterior"
file = "post.nc"
variable = "y"
source = "test"

[[items]]
name = "z"
side = "benefit"
stakeholder = "s"
value = "y - 2 * x"
years = [1]
"""
"""Two inputs read from the draws file ``post.nc`` (variables ``x`` and ``y``)."""
