"""Resources a run will need, checked before it starts: memory for kept draws, time.

Layer rule: imports ``model`` and ``errors`` only; reads the operating system's memory
figures (``/proc/meminfo``, the cgroup limit), never a user's file.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from pathlib import Path

from mkba_sim.errors import SimulationError
from mkba_sim.model import Model

__all__ = [
    "ASSEMBLY_FACTOR",
    "available_memory",
    "check_kept_draws",
    "format_bytes",
    "format_duration",
    "kept_draws_bytes",
    "parse_size",
]

ASSEMBLY_FACTOR = 3
"""Kept draws are held about three times while the result is assembled (chunks, the
concatenated array, the per-variable copies of the dataset)."""

_UNITS = {"": 1, "b": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40, "p": 2**50}
_SIZE = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?)\s*([kmgtp]?)(?:i?b)?\s*$", re.IGNORECASE)


def parse_size(text: str) -> int:
    """Bytes in ``"512M"``, ``"8GB"``, ``"1.5GiB"`` or ``"1000000"`` (binary multiples).

    Raises
    ------
    ValueError
        If ``text`` is not such a size or is not positive.
    """
    m = _SIZE.match(text)
    if not m:
        raise ValueError(f"not a size: {text!r} (write e.g. 512M or 8G)")
    value = float(m.group(1)) * _UNITS[m.group(2).lower()]
    if not math.isfinite(value) or value < 1:
        raise ValueError(f"not a positive size: {text!r}")
    return int(value)


def format_bytes(n: float) -> str:
    """``1.5 GiB``-style text."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def format_duration(seconds: float) -> str:
    """``2 h 05 min``, ``3 min 20 s`` or ``12 s``."""
    s = max(0, round(seconds))
    if s >= 86_400 * 2:
        return f"{s / 86_400:,.0f} days"
    if s >= 3600:
        return f"{s // 3600} h {s % 3600 // 60:02d} min"
    if s >= 60:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s} s"


def available_memory() -> int | None:
    """Memory this process can still use, in bytes, or ``None`` if unknown.

    The smaller of ``MemAvailable`` (Linux) and the cgroup (container) limit left; on
    other systems the free physical pages.
    """
    found: list[int] = []
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                found.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        used = Path("/sys/fs/cgroup/memory.current").read_text().strip()
        if limit.isdigit() and used.isdigit():
            found.append(max(0, int(limit) - int(used)))
    except (OSError, ValueError):
        pass
    if not found:
        try:
            found.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (AttributeError, OSError, ValueError):
            return None
    return min(found)


def kept_draws_bytes(model: Model, draws: int, scenarios: Sequence[str] | None = None) -> int:
    """Upper estimate of the memory ``keep_draws`` needs for ``draws`` draws.

    Per draw and scenario every parameter, every item and the four totals are kept as
    float64, and the result is assembled with :data:`ASSEMBLY_FACTOR` copies.
    """
    names = list(scenarios) if scenarios else list(model.scenarios)
    per_draw = sum(
        len(model.scenarios[n].parameters) + len(model.scenarios[n].items) + 4
        for n in names
        if n in model.scenarios
    )
    return ASSEMBLY_FACTOR * 8 * per_draw * draws


def check_kept_draws(
    model: Model,
    draws: int,
    scenarios: Sequence[str] | None = None,
    limit: int | None = None,
) -> None:
    """Refuse, before a run starts, to keep more draws than memory holds.

    Parameters
    ----------
    limit
        Bytes the run may use; default the memory available now
        (:func:`available_memory`; no check if that is unknown).

    Raises
    ------
    SimulationError
        With the size needed, the memory available and the alternatives.
    """
    budget = available_memory() if limit is None else limit
    if budget is None:
        return
    need = kept_draws_bytes(model, draws, scenarios)
    if need > budget:
        what = "the memory limit" if limit is not None else "the memory available"
        raise SimulationError(
            f"keeping {draws:,} draws needs about {format_bytes(need)}, more than {what} "
            f"({format_bytes(budget)}); run without --keep-draws (summaries and quantiles "
            "use constant memory), with fewer --draws, or raise --memory-limit"
        )
