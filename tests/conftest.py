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
