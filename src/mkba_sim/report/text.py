"""Plain-text tables for the terminal."""

from __future__ import annotations

from collections.abc import Sequence

from mkba_sim.analysis.replication import ReplicationRow
from mkba_sim.model import Model

__all__ = ["fmt_number", "replication_table"]


def fmt_number(x: float, decimals: int = 0) -> str:
    """Thousands separators, fixed decimals; ``-0`` shown as ``0``."""
    if x == 0:
        x = 0.0
    return f"{x:,.{decimals}f}"


def replication_table(model: Model, rows: Sequence[ReplicationRow]) -> str:
    """Published figures beside the model's, with the difference, one row per figure."""
    head = ("scenario", "quantity", "column", "published", "model", "difference", "source")
    body = [(r.scenario, r.quantity, r.column, fmt_number(r.published, r.decimals),
             fmt_number(r.computed, r.decimals), fmt_number(r.difference, r.decimals), r.source)
            for r in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body, strict=True)]
    right = {3, 4, 5}

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()

    out = [f"Replication of {model.title!r} ({model.path})", "", line(head),
           line(["-" * w for w in widths])]
    out += [line(b) for b in body]
    n_ok = sum(r.difference == 0 for r in rows)
    out += ["", f"{n_ok} of {len(rows)} published figures reproduced exactly."]
    notes = [r for r in rows if r.note and r.column == "central"]
    if notes:
        out += ["", "Notes:"] + [f"- {r.scenario}/{r.quantity}: {r.note}" for r in notes]
    return "\n".join(out)
