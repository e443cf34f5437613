"""Turn the parsed TOML of a model file into a validated :class:`Model`.

Every problem raises :class:`~mkba_sim.errors.ModelFileError` naming the file, the
dotted key and what to do about it.
"""

from __future__ import annotations

import difflib
import graphlib
import math
import re
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

import numpy as np
from pydantic import ValidationError

from mkba_sim.distributions import (
    Discrete,
    Distribution,
    EffectSize,
    Posterior,
    SpecError,
    parse_distribution,
)
from mkba_sim.errors import ModelFileError, ModelWarning
from mkba_sim.model.evidence import Evidence, parse_evidence
from mkba_sim.model.expressions import FUNCTIONS, ExpressionError, Node, names, parse_expression
from mkba_sim.model.schema import (
    CorrelationSpec,
    DerivedSpec,
    FileSpec,
    ItemSpec,
    ScenarioSpec,
)
from mkba_sim.model.types import (
    Correlation,
    Derived,
    Item,
    Model,
    Parameter,
    PmItem,
    PublishedFigure,
    Scenario,
    Settings,
)
from mkba_sim.model.units import LITERAL, Unit, UnitError, infer_unit, parse_unit

__all__ = ["RESERVED", "build_model"]

RESERVED = frozenset({"net", "benefits", "costs", "bcr"})
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_COMMON = ("published", "published_low", "published_high", "unit", "source", "note")

DerivedRaw = str | float | DerivedSpec


class _Ctx:
    """Where we are, for error messages."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.warnings: list[str] = []
        self._names: dict[int, tuple[Node, frozenset[str]]] = {}

    def names(self, expr: Node) -> frozenset[str]:
        """Names ``expr`` refers to, computed once per tree (scenarios share their trees)."""
        hit = self._names.get(id(expr))
        if hit is None or hit[0] is not expr:
            hit = (expr, frozenset(names(expr)))
            self._names[id(expr)] = hit
        return hit[1]

    def error(self, key: str, problem: str) -> ModelFileError:
        return ModelFileError(self.path, key, problem)

    def warn(self, key: str, problem: str) -> None:
        self.warnings.append(str(ModelFileError(self.path, key, problem)))


def build_model(raw: Mapping[str, Any], *, path: str = "<string>", sha256: str = "") -> Model:
    """Validate a parsed model file and resolve its scenarios.

    Parameters
    ----------
    raw
        The TOML document as a dict (see ``docs/model-format.md``).
    path
        File name used in error messages and kept on the model.
    sha256
        Hash of the file's bytes, stamped on results as provenance.
    """
    ctx = _Ctx(path)
    if not isinstance(raw, Mapping):
        raise ctx.error("", f"a model file is a table of keys, got {type(raw).__name__}")
    spec = _structure(raw, ctx)
    settings = Settings(**spec.model.model_dump())
    base_parts = _Parts(
        settings=settings,
        populations=dict(spec.populations),
        parameters={
            n: _parameter(n, b, ctx, f"parameters.{n}") for n, b in spec.parameters.items()
        },
        derived={n: _derived(n, d, ctx, f"derived.{n}") for n, d in spec.derived.items()},
        items=[_item(it, ctx, f"items[{i}] ({it.name!r})") for i, it in enumerate(spec.items)],
    )
    scenarios = {
        "base": _finish("base", "the model as written", base_parts, spec.correlations, ctx)
    }
    parts = {"base": base_parts}
    for name in spec.scenarios:
        if name == "base" or name in RESERVED:
            raise ctx.error(f"scenarios.{name}", "this scenario name is reserved")
    for name in _extends_order(spec.scenarios, ctx):
        sspec = spec.scenarios[name]
        parent = parts[sspec.extends or "base"]
        parts[name] = _override(parent, sspec, ctx, f"scenarios.{name}")
        if _changes_nothing(sspec):  # already checked as its parent: reuse, don't redo
            scenarios[name] = replace(
                scenarios[sspec.extends or "base"], name=name, description=sspec.description
            )
            continue
        scenarios[name] = _finish(name, sspec.description, parts[name], spec.correlations, ctx)
        _check_overrides_used(name, sspec, scenarios[name], ctx)
    scenarios = {n: scenarios[n] for n in ("base", *spec.scenarios)}  # file order
    published = tuple(_published(spec, scenarios, ctx))
    pm = tuple(PmItem(p.name, p.side, p.note, p.source) for p in spec.pm)
    evidence = _evidence(spec, scenarios, ctx)
    for w in ctx.warnings:
        warnings.warn(w, ModelWarning, stacklevel=2)
    return Model(
        path=path,
        sha256=sha256,
        settings=settings,
        scenarios=scenarios,
        pm=pm,
        published=published,
        warnings=tuple(ctx.warnings),
        evidence=evidence,
    )


# --------------------------------------------------------------------------- structure


def _structure(raw: Mapping[str, Any], ctx: _Ctx) -> FileSpec:
    try:
        return FileSpec.model_validate(dict(raw))
    except ValidationError as exc:
        errors = exc.errors()
        first = errors[0]
        key = _loc_key(first["loc"], raw)
        msg = _pydantic_message(first)
        more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
        raise ctx.error(key, msg + more) from None


def _loc_key(loc: tuple[Any, ...], raw: Mapping[str, Any]) -> str:
    parts: list[str] = []
    node: Any = raw
    for p in loc:
        if isinstance(p, int):
            label = f"[{p}]"
            try:
                item = node[p]
                if isinstance(item, Mapping) and isinstance(item.get("name"), str):
                    label = f"[{p}] ({item['name']!r})"
                node = item
            except (IndexError, KeyError, TypeError):
                node = None
            parts.append(label)
            continue
        if p in ("str", "float", "int", "DerivedSpec", "function-after", "list[int]"):
            continue  # pydantic union-branch labels, not keys
        parts.append(("." if parts else "") + str(p))
        node = node.get(p) if isinstance(node, Mapping) else None
    return "".join(parts)


def _pydantic_message(err: Mapping[str, Any]) -> str:
    kind = err.get("type", "")
    if kind == "extra_forbidden":
        return "unknown key (check the spelling; see docs/model-format.md)"
    if kind == "missing":
        return "is required"
    got = err.get("input")
    shown = "" if isinstance(got, dict | list) else f", got {got!r}"
    return f"{err.get('msg', 'invalid value')}{shown}"


# --------------------------------------------------------------------------- pieces


def _check_name(name: str, ctx: _Ctx, key: str) -> None:
    if not _NAME.fullmatch(name):
        raise ctx.error(
            key, f"{name!r} is not a valid name: use letters, digits and _ and start with a letter"
        )
    if name in FUNCTIONS or name in RESERVED:
        raise ctx.error(key, f"{name!r} is reserved; choose another name")


def _parameter(name: str, body: Mapping[str, Any], ctx: _Ctx, key: str) -> Parameter:
    _check_name(name, ctx, key)
    family_spec = {k: v for k, v in body.items() if k not in _COMMON}
    try:
        dist = parse_distribution(family_spec)
    except SpecError as exc:
        raise ctx.error(f"{key}.{exc.key}" if exc.key else key, exc.problem) from None
    for k in ("unit", "source", "note"):
        if k in body and not isinstance(body[k], str):
            raise ctx.error(f"{key}.{k}", f"must be a string, got {body[k]!r}")
    if not body.get("source"):
        raise ctx.error(
            f"{key}.source", "is required: say where the number comes from (file, table, page)"
        )
    pub = {k: _opt_number(body, k, ctx, key) for k in _COMMON[:3]}
    published = pub["published"]
    if published is None and dist.family == "fixed":
        published = dist.mean()
    if published is None and dist.family != "posterior":
        raise ctx.error(
            f"{key}.published",
            "is required: the value the study used (replication mode puts the parameter there)",
        )
    for k, v in pub.items():
        if v is not None:
            _check_support(dist, v, ctx, f"{key}.{k}")
    unit = body.get("unit")
    if unit is not None:
        _unit(unit, ctx, f"{key}.unit")
    return Parameter(
        name,
        dist,
        published,
        pub["published_low"],
        pub["published_high"],
        unit,
        body["source"],
        body.get("note", ""),
    )


def _opt_number(body: Mapping[str, Any], k: str, ctx: _Ctx, key: str) -> float | None:
    if k not in body:
        return None
    v = body[k]
    if isinstance(v, bool) or not isinstance(v, int | float) or not _finite(v):
        huge = isinstance(v, int) and not isinstance(v, bool)
        shown = "an integer too large for a float" if huge else repr(v)
        raise ctx.error(f"{key}.{k}", f"must be a finite number, got {shown}")
    return float(v)


def _finite(v: float) -> bool:
    try:
        return math.isfinite(v)
    except OverflowError:  # an integer too large for a float
        return False


def _check_support(dist: Distribution, value: float, ctx: _Ctx, key: str) -> None:
    if isinstance(dist, Posterior | Discrete | EffectSize) or not dist.is_random:
        return
    lo, hi = dist.support()
    if not lo - 1e-12 * abs(lo) <= value <= hi + 1e-12 * abs(hi):
        what = "a probability in [0, 1]" if (lo, hi) == (0.0, 1.0) else f"within [{lo}, {hi}]"
        raise ctx.error(key, f"{value} is outside the distribution's support; it must be {what}")


def _unit(text: str, ctx: _Ctx, key: str) -> Unit:
    try:
        return parse_unit(text)
    except UnitError as exc:
        raise ctx.error(key, str(exc)) from None


def _expr(text: Any, ctx: _Ctx, key: str) -> Node:
    try:
        return parse_expression(text)
    except ExpressionError as exc:
        raise ctx.error(key, str(exc)) from None


def _derived(name: str, raw: DerivedRaw, ctx: _Ctx, key: str) -> Derived:
    _check_name(name, ctx, key)
    if isinstance(raw, DerivedSpec):
        if raw.unit is not None:
            _unit(raw.unit, ctx, f"{key}.unit")
        return Derived(name, _expr(raw.expr, ctx, f"{key}.expr"), raw.unit, raw.note)
    return Derived(name, _expr(raw, ctx, key))


def _item(spec: ItemSpec, ctx: _Ctx, key: str) -> Item:
    if spec.unit is not None:
        _unit(spec.unit, ctx, f"{key}.unit")
    return Item(
        spec.name,
        spec.side,
        spec.stakeholder,
        _expr(spec.value, ctx, f"{key}.value"),
        tuple(spec.years),
        spec.decay,
        spec.unit,
        spec.source,
        spec.note,
    )


# --------------------------------------------------------------------------- scenarios


class _Parts:
    """A scenario's unresolved pieces, so that ``extends`` can build on them."""

    def __init__(
        self,
        settings: Settings,
        populations: dict[str, float],
        parameters: dict[str, Parameter],
        derived: dict[str, Derived],
        items: list[Item],
    ) -> None:
        self.settings = settings
        self.populations = populations
        self.parameters = parameters
        self.derived = derived
        self.items = items


def _changes_nothing(s: ScenarioSpec) -> bool:
    """True for a scenario that only names its parent (and describes itself)."""
    changed = s.populations or s.parameters or s.derived or s.items or s.drop_items
    return not changed and all(v is None for v in s.model.model_dump().values())


def _extends_order(scenarios: Mapping[str, ScenarioSpec], ctx: _Ctx) -> list[str]:
    """Scenarios in an order where each comes after the one it extends (no recursion)."""
    graph: dict[str, set[str]] = {}
    for name, sc in scenarios.items():
        parent = sc.extends
        if parent is not None and parent != "base" and parent not in scenarios:
            raise ctx.error(
                f"scenarios.{name}.extends",
                f"unknown scenario {parent!r}{_suggest(parent, ['base', *scenarios])}",
            )
        graph[name] = {parent} if parent is not None and parent != "base" else set()
    try:
        return list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as exc:
        cycle = _cycle(exc, list(scenarios))
        raise ctx.error(
            f"scenarios.{cycle[0]}.extends",
            f"scenarios extend each other in a circle: {' -> '.join(cycle)}",
        ) from None


def _cycle(exc: graphlib.CycleError, order: list[str]) -> list[str]:
    """The cycle of ``exc`` as "refers to" arrows, starting at its first name in ``order``."""
    nodes = list(reversed(exc.args[1][:-1]))  # graphlib lists predecessors first
    first = min(range(len(nodes)), key=lambda i: order.index(nodes[i]))
    nodes = nodes[first:] + nodes[:first]
    return [*nodes, nodes[0]]


def _override(parent: _Parts, s: ScenarioSpec, ctx: _Ctx, key: str) -> _Parts:
    overrides = {k: v for k, v in s.model.model_dump().items() if v is not None}
    for n in s.populations:
        if n not in parent.populations:
            raise ctx.error(
                f"{key}.populations.{n}",
                f"no population called {n!r} to override{_suggest(n, parent.populations)} "
                "(a scenario can only change populations the model defines)",
            )
    populations = {**parent.populations, **s.populations}
    params = dict(parent.parameters)
    for n, body in s.parameters.items():
        params[n] = _parameter(n, body, ctx, f"{key}.parameters.{n}")
    derived = dict(parent.derived)
    for n, d in s.derived.items():
        derived[n] = _derived(n, d, ctx, f"{key}.derived.{n}")
    items = list(parent.items)
    existing = {it.name for it in items}
    for i, drop in enumerate(s.drop_items):
        if drop not in existing:
            raise ctx.error(
                f"{key}.drop_items[{i}]", f"no item called {drop!r}{_suggest(drop, existing)}"
            )
    items = [it for it in items if it.name not in set(s.drop_items)]
    for i, ispec in enumerate(s.items):
        new = _item(ispec, ctx, f"{key}.items[{i}] ({ispec.name!r})")
        items = [it for it in items if it.name != new.name] + [new]
    return _Parts(replace(parent.settings, **overrides), populations, params, derived, items)


def _finish(
    name: str, description: str, parts: _Parts, corr_specs: list[CorrelationSpec], ctx: _Ctx
) -> Scenario:
    where = "" if name == "base" else f" (in scenario {name!r})"
    # names must be unique across populations, parameters and derived quantities
    seen: dict[str, str] = {}
    for kind, keys in (
        ("populations", parts.populations),
        ("parameters", parts.parameters),
        ("derived", parts.derived),
    ):
        for n in keys:
            if kind == "populations":
                _check_name(n, ctx, f"populations.{n}")
                v = parts.populations[n]
                if not math.isfinite(v):
                    raise ctx.error(f"populations.{n}", f"must be a finite number, got {v}")
                if v < 0:
                    raise ctx.error(f"populations.{n}", f"a count cannot be negative, got {v}")
            if n in seen:
                raise ctx.error(f"{kind}.{n}", f"{n!r} is also defined in [{seen[n]}]{where}")
            seen[n] = kind
    derived = _order_derived(parts, ctx, where)
    known = set(seen)
    item_names: set[str] = set()
    for i, it in enumerate(parts.items):
        key = f"items[{i}] ({it.name!r})"
        if it.name in item_names:
            raise ctx.error(key, f"two items are called {it.name!r}{where}")
        item_names.add(it.name)
        for ref in sorted(ctx.names(it.expr) - known):
            raise ctx.error(
                f"{key}.value", f"refers to undefined name {ref!r}{where}{_suggest(ref, known)}"
            )
        bad = [y for y in it.years if not 1 <= y <= parts.settings.horizon_years]
        if bad:
            raise ctx.error(
                f"{key}.years",
                f"year {bad[0]} is outside 1..horizon_years = "
                f"{parts.settings.horizon_years}{where}",
            )
    _check_units(parts, derived, ctx, where)
    correlations = tuple(
        _correlation(c, parts.parameters, ctx, f"correlations[{i}]")
        for i, c in enumerate(corr_specs)
    )
    return Scenario(
        name,
        description,
        parts.settings,
        dict(parts.populations),
        dict(parts.parameters),
        tuple(derived),
        tuple(parts.items),
        correlations,
    )


def _order_derived(parts: _Parts, ctx: _Ctx, where: str) -> list[Derived]:
    """Derived quantities in dependency order (:mod:`graphlib`, no recursion)."""
    known = set(parts.populations) | set(parts.parameters) | set(parts.derived)
    graph: dict[str, set[str]] = {}
    for n, d in parts.derived.items():
        refs = ctx.names(d.expr)
        for ref in sorted(refs):
            if ref not in known:
                raise ctx.error(
                    f"derived.{n}", f"refers to undefined name {ref!r}{where}{_suggest(ref, known)}"
                )
        graph[n] = {r for r in refs if r in parts.derived}
    try:
        order = list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as exc:
        cycle = _cycle(exc, list(parts.derived))
        raise ctx.error(
            f"derived.{cycle[0]}", f"circular reference: {' -> '.join(cycle)}{where}"
        ) from None
    return [parts.derived[n] for n in order]


def _used_names(scenario: Scenario, ctx: _Ctx) -> set[str]:
    """Names the ledger depends on, directly or through derived quantities."""
    deps = {d.name: ctx.names(d.expr) for d in scenario.derived}
    todo = [n for it in scenario.items for n in ctx.names(it.expr)]
    used: set[str] = set()
    while todo:
        n = todo.pop()
        if n not in used:
            used.add(n)
            todo.extend(deps.get(n, ()))
    return used


def _check_overrides_used(name: str, spec: ScenarioSpec, scenario: Scenario, ctx: _Ctx) -> None:
    """Warn about a scenario's parameters and derived quantities that nothing uses."""
    used = _used_names(scenario, ctx)
    key = f"scenarios.{name}"
    for kind, declared in (("parameters", spec.parameters), ("derived", spec.derived)):
        for n in declared:
            if n not in used:
                ctx.warn(
                    f"{key}.{kind}.{n}",
                    f"nothing in scenario {name!r} uses {n!r}, so this setting changes "
                    f"nothing{_suggest(n, _unused_hint(used, scenario))}",
                )


def _unused_hint(used: Iterable[str], scenario: Scenario) -> list[str]:
    return sorted(set(used) & (set(scenario.parameters) | {d.name for d in scenario.derived}))


def _check_units(parts: _Parts, derived: list[Derived], ctx: _Ctx, where: str) -> None:
    units: dict[str, Unit | None] = {}
    for n in parts.populations:
        units[n] = None
    for n, p in parts.parameters.items():
        units[n] = parse_unit(p.unit) if p.unit is not None else None
    for d in derived:
        declared = parse_unit(d.unit) if d.unit is not None else None
        try:
            got = infer_unit(d.expr, units)
        except UnitError as exc:
            raise ctx.error(f"derived.{d.name}", f"unit mismatch: {exc}{where}") from None
        inferred = None if got is None or got is LITERAL else got
        if declared is not None and isinstance(inferred, Unit) and inferred != declared:
            raise ctx.error(
                f"derived.{d.name}.unit",
                f"declared {declared} but the expression gives {inferred}{where}",
            )
        units[d.name] = (
            declared if declared is not None else (inferred if isinstance(inferred, Unit) else None)
        )
    money = parse_unit(parts.settings.currency)
    per_year = money / parse_unit("year")
    for i, it in enumerate(parts.items):
        key = f"items[{i}] ({it.name!r})"
        try:
            got = infer_unit(it.expr, units)
        except UnitError as exc:
            raise ctx.error(f"{key}.value", f"unit mismatch: {exc}{where}") from None
        if isinstance(got, Unit) and got not in (money, per_year):
            raise ctx.error(
                f"{key}.value",
                f"evaluates to {got}, but a ledger item must be "
                f"money ({money} or {per_year}){where}",
            )
        if it.unit is not None:
            declared = parse_unit(it.unit)
            if declared not in (money, per_year):
                raise ctx.error(
                    f"{key}.unit", f"a ledger item is money ({money} or {per_year}), not {declared}"
                )
            if isinstance(got, Unit) and got != declared:
                raise ctx.error(f"{key}.unit", f"declared {declared} but the value gives {got}")


def _correlation(
    spec: CorrelationSpec, params: Mapping[str, Parameter], ctx: _Ctx, key: str
) -> Correlation:
    n = len(spec.names)
    if len(set(spec.names)) != n:
        raise ctx.error(f"{key}.names", "a name appears twice")
    for i, name in enumerate(spec.names):
        if name not in params:
            raise ctx.error(
                f"{key}.names[{i}]", f"no parameter called {name!r}{_suggest(name, params)}"
            )
        dist = params[name].dist
        if not dist.is_random or isinstance(dist, Posterior):
            raise ctx.error(
                f"{key}.names[{i}]",
                f"{name!r} is {dist.family}; only sampled "
                "parameters can be correlated (posterior draws keep their own "
                "joint dependence)",
            )
    rows = [len(r) for r in spec.matrix]
    if rows != [n] * n:
        raise ctx.error(
            f"{key}.matrix",
            f"must be {n}×{n} to match names, got {len(rows)} rows of lengths {rows}",
        )
    m = np.asarray(spec.matrix, dtype=np.float64)
    if not np.allclose(m, m.T, atol=1e-12):
        raise ctx.error(f"{key}.matrix", "is not symmetric")
    if not np.allclose(np.diag(m), 1.0):
        raise ctx.error(f"{key}.matrix", "diagonal must be 1")
    if np.any(np.abs(m) > 1.0):
        raise ctx.error(f"{key}.matrix", "correlations must lie in [-1, 1]")
    if spec.kind == "spearman":
        # Pearson correlation of normal scores giving a rank correlation rho_s
        m = 2.0 * np.sin(np.pi * m / 6.0)
        np.fill_diagonal(m, 1.0)
    try:
        chol = np.linalg.cholesky(m)
    except np.linalg.LinAlgError:
        raise ctx.error(
            f"{key}.matrix",
            "is not positive definite (no valid joint distribution has these correlations)",
        ) from None
    return Correlation(tuple(spec.names), m, chol)


def _published(
    spec: FileSpec, scenarios: Mapping[str, Scenario], ctx: _Ctx
) -> list[PublishedFigure]:
    out = []
    for i, p in enumerate(spec.published):
        key = f"published[{i}]"
        if p.scenario not in scenarios:
            raise ctx.error(
                f"{key}.scenario",
                f"unknown scenario {p.scenario!r}{_suggest(p.scenario, scenarios)}",
            )
        sc = scenarios[p.scenario]
        known = (
            RESERVED
            | {it.name for it in sc.items}
            | {d.name for d in sc.derived}
            | set(sc.parameters)
            | set(sc.populations)
        )
        if p.quantity not in known:
            raise ctx.error(
                f"{key}.quantity",
                f"{p.quantity!r} is not net, benefits, costs, "
                f"bcr, an item or a name in scenario {p.scenario!r}"
                f"{_suggest(p.quantity, known)}",
            )
        for field in ("value", "low", "high"):
            v = getattr(p, field)
            if v is not None and not math.isfinite(v):
                raise ctx.error(f"{key}.{field}", f"must be a finite number, got {v}")
        out.append(
            PublishedFigure(
                p.quantity, p.scenario, p.value, p.low, p.high, p.decimals, p.source, p.note
            )
        )
    return out


def _evidence(spec: FileSpec, scenarios: Mapping[str, Scenario], ctx: _Ctx) -> dict[str, Evidence]:
    """The ``[evidence.NAME]`` blocks, and the posterior parameters that use them."""
    out: dict[str, Evidence] = {}
    for name, body in spec.evidence.items():
        _check_name(name, ctx, f"evidence.{name}")
        out[name] = parse_evidence(name, body, ctx.path)
    for sname, sc in scenarios.items():
        for pname, p in sc.parameters.items():
            d = p.dist
            if not isinstance(d, Posterior) or d.is_file or d.source not in out:
                continue
            ev = out[d.source]
            where = "parameters" if sname == "base" else f"scenarios.{sname}.parameters"
            if d.variable not in ev.outputs:
                raise ctx.error(
                    f"{where}.{pname}.variable",
                    f"evidence block {ev.name!r} ({ev.kind}) has no variable {d.variable!r}; "
                    f"choose one of {list(ev.outputs)}{_suggest(d.variable, ev.outputs)}",
                )
            if d.prior is not None and d.prior not in ev.variants:
                raise ctx.error(
                    f"{where}.{pname}.prior",
                    f"evidence block {ev.name!r} has no prior {d.prior!r}; choose one of "
                    f"{list(ev.variants)}{_suggest(d.prior, ev.variants)}",
                )
    return out


def _suggest(word: str, options: Any) -> str:
    close = difflib.get_close_matches(word, [str(o) for o in options], n=1)
    return f"; did you mean {close[0]!r}?" if close else ""
