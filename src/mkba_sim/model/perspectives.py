"""Stakeholders declared once, perspectives (named groups of them) and per-participant results.

A *perspective* is a named group of stakeholders whose balance is reported as its own
figure, with an interval and P(> 0), in every output — WSIPP's benefit-cost model
reports taxpayers, participants, others and indirect effects this way (WSIPP 2019,
*Benefit-Cost Technical Documentation*, ch. 1, "perspectives"). Its balance is the
signed sum of the present values of the items of its stakeholders (the ledger's one
definition, :mod:`mkba_sim.model.ledger`).

``[model] per_participant = "clients"`` names a population; every total and perspective
balance is then also reported divided by it (undefined when the population is 0).

With a ``[stakeholders]`` table every item's stakeholder and every perspective member must
be one of the declared names (a misspelt one is an error with "did you mean"); without
it, names that look like misspellings of each other get a warning.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["Perspective", "check_declarations"]

#: Two stakeholder names at least this similar (difflib ratio) get a "typo?" warning.
SIMILAR = 0.85


@dataclass(frozen=True)
class Perspective:
    """A named group of stakeholders with its own balance."""

    name: str
    stakeholders: tuple[str, ...]
    description: str = ""


class _Ctx(Protocol):
    def error(self, key: str, problem: str) -> Exception: ...

    def warn(self, key: str, problem: str) -> None: ...


def _item_stakeholders(spec: Any) -> list[tuple[str, str]]:
    """(key, stakeholder) of every item in the file, base and scenarios."""
    out = [
        (f"items[{i}] ({it.name!r}).stakeholder", it.stakeholder) for i, it in enumerate(spec.items)
    ]
    for sname, sc in spec.scenarios.items():
        out += [
            (f"scenarios.{sname}.items[{i}] ({it.name!r}).stakeholder", it.stakeholder)
            for i, it in enumerate(sc.items)
        ]
        for iname, change in sc.change_items.items():
            if isinstance(change.get("stakeholder"), str):
                key = f"scenarios.{sname}.change_items.{iname!r}.stakeholder"
                out.append((key, change["stakeholder"]))
    return out


def check_declarations(
    spec: Any, ctx: _Ctx, suggest: Callable[[str, Iterable[str]], str]
) -> tuple[Perspective, ...]:
    """Check ``[stakeholders]``, ``[perspectives]`` and ``per_participant`` of a parsed file.

    Returns the perspectives in file order. Raises ``ctx.error`` for an undeclared
    stakeholder (when ``[stakeholders]`` exists), a perspective member no item has, a
    stakeholder listed twice in one perspective, or a ``per_participant`` that is not a
    population; warns about stakeholder names that look like misspellings of each other
    when none are declared.
    """
    declared: Mapping[str, str] = spec.stakeholders
    used = _item_stakeholders(spec)
    if declared:
        for key, name in used:
            if name not in declared:
                raise ctx.error(
                    key,
                    f"{name!r} is not a declared stakeholder{suggest(name, declared)} "
                    "(declare it in [stakeholders])",
                )
    else:
        seen: dict[str, str] = {}
        for key, name in used:
            if name in seen:
                continue
            close = difflib.get_close_matches(name, list(seen), n=1, cutoff=SIMILAR)
            if close:
                ctx.warn(
                    key,
                    f"stakeholder {name!r} looks like {close[0]!r} ({seen[close[0]]}); if it is "
                    "a typo they are counted as two stakeholders — declare [stakeholders] to "
                    "have every name checked",
                )
            seen[name] = key.rsplit(".", 1)[0]
    known = list(declared) if declared else list(dict.fromkeys(n for _, n in used))
    out = []
    for pname, p in spec.perspectives.items():
        key = f"perspectives.{pname}"
        if not pname.strip():
            raise ctx.error(key, "a perspective needs a name")
        if len(set(p.stakeholders)) != len(p.stakeholders):
            raise ctx.error(f"{key}.stakeholders", "a stakeholder is listed twice")
        for i, s in enumerate(p.stakeholders):
            if s not in known:
                where = "a declared stakeholder" if declared else "the stakeholder of any item"
                raise ctx.error(
                    f"{key}.stakeholders[{i}]", f"{s!r} is not {where}{suggest(s, known)}"
                )
        out.append(Perspective(pname, tuple(p.stakeholders), p.description))
    pop = spec.model.per_participant
    if pop is not None and pop not in spec.populations:
        raise ctx.error(
            "model.per_participant",
            f"{pop!r} is not a population{suggest(pop, spec.populations)}: name the "
            "[populations] entry that counts the participants",
        )
    return tuple(out)
