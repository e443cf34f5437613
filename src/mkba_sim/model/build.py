"""Turn the parsed TOML of a model file into a validated :class:`Model`.

Every problem raises :class:`~mkba_sim.errors.ModelFileError` naming the file, the
dotted key and what to do about it.
"""

from __future__ import annotations

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
    FAMILIES,
    Dependent,
    Discrete,
    Distribution,
    EffectSize,
    Posterior,
    SpecError,
    parse_distribution,
)
from mkba_sim.distributions.base import TableStore
from mkba_sim.distributions.dependent import keys_of, kind_of
from mkba_sim.distributions.dependent import supported as supported_dependent
from mkba_sim.errors import ModelFileError, ModelWarning, did_you_mean
from mkba_sim.model.dependent import dependency_graph, dependent_refs
from mkba_sim.model.evidence import Evidence, parse_evidence
from mkba_sim.model.expressions import (
    FUNCTIONS,
    YEAR,
    ExpressionError,
    Node,
    names,
    parse_expression,
)
from mkba_sim.model.perspectives import check_declarations
from mkba_sim.model.prices import PriceConversion, price_factor, rescale_names
from mkba_sim.model.schema import (
    CorrelationSpec,
    DerivedSpec,
    FileSpec,
    ItemSpec,
    PopulationSpec,
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
from mkba_sim.model.units import (
    LITERAL,
    Unit,
    UnitError,
    infer_unit,
    parse_unit,
    population_unit,
)

__all__ = ["RESERVED", "build_model"]

RESERVED = frozenset({"net", "benefits", "costs", "bcr"})
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_COMMON = ("published", "published_low", "published_high", "unit", "source", "note", "price_year")

DerivedRaw = str | float | DerivedSpec


class _Ctx:
    """Where we are, for error messages."""

    def __init__(self, path: str, tables: TableStore | None = None) -> None:
        self.path = path
        self.tables = tables  # kept quantile tables, for the distributions' usability check
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


def build_model(
    raw: Mapping[str, Any],
    *,
    path: str = "<string>",
    sha256: str = "",
    tables: TableStore | None = None,
) -> Model:
    """Validate a parsed model file and resolve its scenarios.

    Parameters
    ----------
    raw
        The TOML document as a dict (see ``docs/model-format.md``).
    path
        File name used in error messages and kept on the model.
    sha256
        Hash of the file's bytes, stamped on results as provenance.
    tables
        Quantile tables kept between processes (:func:`mkba_sim.io.tables.table_cache`):
        a distribution whose table is kept there is known usable without computing a
        quantile. The model is the same with or without.
    """
    ctx = _Ctx(path, tables)
    if not isinstance(raw, Mapping):
        raise ctx.error("", f"a model file is a table of keys, got {type(raw).__name__}")
    spec = _structure(raw, ctx)
    settings = Settings(**spec.model.model_dump())
    perspectives = check_declarations(spec, ctx, did_you_mean)
    pops, pop_units = _populations(spec, ctx)
    base_parts = _Parts(
        settings=settings,
        populations=pops,
        parameters={
            n: _parameter(n, b, ctx, f"parameters.{n}") for n, b in spec.parameters.items()
        },
        derived={n: _derived(n, d, ctx, f"derived.{n}") for n, d in spec.derived.items()},
        items=[_item(it, ctx, f"items[{i}] ({it.name!r})") for i, it in enumerate(spec.items)],
        pop_units=pop_units,
        raw_params={n: dict(b) for n, b in spec.parameters.items()},
        item_specs={it.name: it for it in spec.items},
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
    scenarios, conversions = _declared_extras(scenarios, perspectives, pop_units, ctx)
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
        stakeholders=dict(spec.stakeholders),
        price_conversions=conversions,
        evidence=evidence,
    )


# --------------------------------------------------------------------------- structure


def _structure(raw: Mapping[str, Any], ctx: _Ctx) -> FileSpec:
    try:
        return FileSpec.model_validate(dict(raw))
    except ValidationError as exc:
        errors = exc.errors()
        first = errors[0]
        if first["loc"][-1:] == ("float",) and isinstance(first.get("input"), Mapping):
            # a table where a number or a table is allowed: report the table's problem
            first = next((e for e in errors if "PopulationSpec" in e["loc"]), first)
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
        if p == "PopulationSpec":
            continue
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
    if name in FUNCTIONS or name in RESERVED or name == YEAR:
        raise ctx.error(key, f"{name!r} is reserved; choose another name")


def _parameter(name: str, body: Mapping[str, Any], ctx: _Ctx, key: str) -> Parameter:
    _check_name(name, ctx, key)
    family_spec = {k: v for k, v in body.items() if k not in _COMMON}
    dist: Distribution
    try:
        if _has_expression(family_spec):
            dist = _dependent(family_spec, ctx, key)
        else:
            dist = parse_distribution(family_spec, ctx.tables)
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
    for k, v in pub.items():
        if v is not None:
            _check_support(dist, v, ctx, f"{key}.{k}")
    defaulted = published is None and dist.family not in ("posterior", "dependent")
    if defaulted:
        published, low, high = _published_defaults(dist, family_spec)
        pub["published_low"] = pub["published_low"] if pub["published_low"] is not None else low
        pub["published_high"] = pub["published_high"] if pub["published_high"] is not None else high
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
        published_default=defaulted,
        price_year=_price_year(body, unit, ctx, key),
    )


def _published_defaults(
    dist: Distribution, family_spec: Mapping[str, Any]
) -> tuple[float, float | None, float | None]:
    """Replication values of an input without ``published``: for an effect size the
    conversion of its point estimate and of its CI bounds (low, high), as a study
    converts them; otherwise the distribution's mean (no low/high)."""
    if isinstance(dist, EffectSize):
        return dist.published_defaults({k: v for k, v in family_spec.items() if k != "dist"})
    return float(dist.mean()), None, None


def _price_year(body: Mapping[str, Any], unit: str | None, ctx: _Ctx, key: str) -> int | None:
    """The input's own ``price_year`` (checked against the shipped CPI and its unit)."""
    if "price_year" not in body:
        return None
    y = body["price_year"]
    if isinstance(y, bool) or not isinstance(y, int):
        raise ctx.error(f"{key}.price_year", f"must be a year (an integer), got {y!r}")
    try:
        price_factor(y, y)
    except ValueError as exc:
        raise ctx.error(f"{key}.price_year", str(exc)) from None
    if unit is not None and not any(d == "eur" for d, _ in parse_unit(unit).dims):
        raise ctx.error(
            f"{key}.price_year",
            f"only an amount of money has a price year; this input's unit is {unit!r}",
        )
    return y


_TEXT_KEYS = ("dist", "convert", "file", "model", "variable", "prior")


def _has_expression(spec: Mapping[str, Any]) -> bool:
    """True when a numeric key of a distribution is written as an expression (text)."""
    return any(isinstance(v, str) for k, v in spec.items() if k not in _TEXT_KEYS)


def _dependent(spec: Mapping[str, Any], ctx: _Ctx, key: str) -> Dependent:
    """A distribution with expression-valued keys (see :mod:`mkba_sim.model.dependent`)."""
    family = spec.get("dist")
    cls = FAMILIES.get(family) if isinstance(family, str) else None
    if cls is None:
        return parse_distribution(spec, ctx.tables)  # type: ignore[return-value]  # raises the usual error
    rest = {k: v for k, v in spec.items() if k != "dist"}
    chosen = cls.choose_parametrisation(rest)  # unknown or mixed keys: the usual errors
    text = sorted(k for k, v in rest.items() if isinstance(v, str) and k not in _TEXT_KEYS)
    if family == "effect_size":
        if text != ["base_rate"]:
            raise SpecError(
                text[0] if text[0] != "base_rate" else text[-1],
                "of an effect size only base_rate may be an expression (the estimate and "
                "its interval are numbers from the study)",
            )
        if rest.get("convert") != "success_rate":
            raise SpecError("base_rate", 'is only used with convert = "success_rate"')
        es = parse_distribution({**spec, "base_rate": 0.5}, ctx.tables)
        assert isinstance(es, EffectSize)
        sr_args: tuple[Node, ...] = (
            parse_expression(es.mu),
            parse_expression(es.se),
            _expr(rest["base_rate"], ctx, f"{key}.base_rate"),
        )
        return Dependent("success_rate", sr_args, "effect_size", _as_written(spec))
    kind = kind_of(str(family), tuple(chosen))
    extra = set(rest) - set(chosen)
    if kind is None or extra:
        raise SpecError(
            text[0],
            f"cannot be an expression for dist = {family!r} written with "
            f"{', '.join(sorted(rest))}: expressions are allowed in {supported_dependent()} "
            "(other families tabulate their quantiles from numbers)",
        )
    args = tuple(_expr(rest[k], ctx, f"{key}.{k}") for k in keys_of(kind))
    return Dependent(kind, args, str(family), _as_written(spec))


def _as_written(spec: Mapping[str, Any]) -> str:
    keys = ", ".join(f"{k} = {v}" for k, v in spec.items() if k != "dist")
    return f"{spec['dist']} ({keys})"


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
    if isinstance(dist, Posterior | Discrete | EffectSize | Dependent) or not dist.is_random:
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
    values: tuple[Node, ...] = ()
    if isinstance(spec.value, list):
        if len(spec.value) != len(spec.years):
            raise ctx.error(
                f"{key}.value",
                f"gives {len(spec.value)} value(s) for {len(spec.years)} year(s) "
                f"{spec.years}: give one value per listed year, or one value for all",
            )
        if len(set(spec.years)) != len(spec.years):
            raise ctx.error(f"{key}.years", "a year is listed twice")
        values = tuple(_expr(v, ctx, f"{key}.value[{i}]") for i, v in enumerate(spec.value))
        expr = values[0]
    else:
        expr = _expr(spec.value, ctx, f"{key}.value")
    decay, decay_expr = 0.0, None
    if isinstance(spec.decay, str):
        decay_expr = _expr(spec.decay, ctx, f"{key}.decay")
        if YEAR in names(decay_expr):
            raise ctx.error(
                f"{key}.decay",
                "a decay is one rate for all years and cannot use 'year'; "
                "write a per-year value instead",
            )
    else:
        decay = spec.decay
        if not 0.0 <= decay < 1.0:
            raise ctx.error(
                f"{key}.decay",
                f"must be a fraction in [0, 1) (or an expression), got {decay}",
            )
    uses_year = any(YEAR in names(v) for v in (values or (expr,)))
    return Item(
        spec.name,
        spec.side,
        spec.stakeholder,
        expr,
        tuple(spec.years),
        decay,
        spec.unit,
        spec.source,
        spec.note,
        values,
        decay_expr,
        uses_year,
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
        pop_units: dict[str, str] | None = None,
        raw_params: dict[str, dict[str, Any]] | None = None,
        item_specs: dict[str, ItemSpec] | None = None,
    ) -> None:
        self.settings = settings
        self.populations = populations
        self.parameters = parameters
        self.derived = derived
        self.items = items
        self.pop_units = pop_units or {}
        self.raw_params = raw_params or {}  # as written, for change_parameters
        self.item_specs = item_specs or {}  # as written, for change_items


def _populations(spec: FileSpec, ctx: _Ctx) -> tuple[dict[str, float], dict[str, str]]:
    """Values and units of ``[populations]`` (a number, or a table with ``value``/``unit``)."""
    values: dict[str, float] = {}
    units: dict[str, str] = {}
    for n, v in spec.populations.items():
        if isinstance(v, PopulationSpec):
            values[n] = v.value
            if v.unit is not None:
                _unit(v.unit, ctx, f"populations.{n}.unit")
                units[n] = v.unit
        else:
            values[n] = v
    return values, units


def _declared_extras(
    scenarios: dict[str, Scenario],
    perspectives: tuple[Any, ...],
    pop_units: dict[str, str],
    ctx: _Ctx,
) -> tuple[dict[str, Scenario], tuple[PriceConversion, ...]]:
    """Perspectives and population units on every scenario; inputs with their own price
    year converted to the model's (:mod:`mkba_sim.model.prices`)."""
    out: dict[str, Scenario] = {}
    conversions: list[PriceConversion] = []
    seen: set[tuple[str, int]] = set()
    for name, sc in scenarios.items():
        target = sc.settings.price_year
        factors: dict[str, float] = {}
        for pname, p in sc.parameters.items():
            if p.price_year is None:
                continue
            try:
                i_from, i_to = price_factor(p.price_year, target)
            except ValueError as exc:
                raise ctx.error("model.price_year", str(exc)) from None
            factors[pname] = i_to / i_from
            if (pname, id(p)) not in seen:
                seen.add((pname, id(p)))
                conversions.append(PriceConversion(pname, name, p.price_year, target, i_from, i_to))
        if factors:
            sc = replace(
                sc,
                derived=tuple(replace(d, expr=rescale_names(d.expr, factors)) for d in sc.derived),
                items=tuple(replace(it, expr=rescale_names(it.expr, factors)) for it in sc.items),
            )
        out[name] = replace(sc, perspectives=perspectives, population_units=dict(pop_units))
    return out, tuple(conversions)


def _changes_nothing(s: ScenarioSpec) -> bool:
    """True for a scenario that only names its parent (and describes itself)."""
    changed = s.populations or s.parameters or s.derived or s.items or s.drop_items
    changed = changed or s.change_items or s.change_parameters
    return not changed and all(v is None for v in s.model.model_dump().values())


def _extends_order(scenarios: Mapping[str, ScenarioSpec], ctx: _Ctx) -> list[str]:
    """Scenarios in an order where each comes after the one it extends (no recursion)."""
    graph: dict[str, set[str]] = {}
    for name, sc in scenarios.items():
        parent = sc.extends
        if parent is not None and parent != "base" and parent not in scenarios:
            raise ctx.error(
                f"scenarios.{name}.extends",
                f"unknown scenario {parent!r}{did_you_mean(parent, ['base', *scenarios])}",
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
                f"no population called {n!r} to override{did_you_mean(n, parent.populations)} "
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
                f"{key}.drop_items[{i}]", f"no item called {drop!r}{did_you_mean(drop, existing)}"
            )
    items = [it for it in items if it.name not in set(s.drop_items)]
    item_specs = {n: v for n, v in parent.item_specs.items() if n not in set(s.drop_items)}
    for i, ispec in enumerate(s.items):
        new = _item(ispec, ctx, f"{key}.items[{i}] ({ispec.name!r})")
        items = [it for it in items if it.name != new.name] + [new]
        item_specs[ispec.name] = ispec
    raw_params = {**parent.raw_params, **{n: dict(b) for n, b in s.parameters.items()}}
    for n, change in s.change_parameters.items():
        body = _changed_parameter(n, change, raw_params, ctx, f"{key}.change_parameters.{n}")
        params[n] = _parameter(n, body, ctx, f"{key}.change_parameters.{n}")
        raw_params[n] = body
    for n, change in s.change_items.items():
        ispec = _changed_item(n, change, item_specs, ctx, f"{key}.change_items.{n!r}")
        new = _item(ispec, ctx, f"{key}.change_items.{n!r}")
        items = [new if it.name == n else it for it in items]
        item_specs[n] = ispec
    return _Parts(
        replace(parent.settings, **overrides),
        populations,
        params,
        derived,
        items,
        pop_units=parent.pop_units,
        raw_params=raw_params,
        item_specs=item_specs,
    )


def _changed_parameter(
    name: str,
    change: Mapping[str, Any],
    raw: Mapping[str, Mapping[str, Any]],
    ctx: _Ctx,
    key: str,
) -> dict[str, Any]:
    """The parameter ``name`` as written, with the keys of ``change`` set or replaced.

    Keys of the parent's parametrisation that the change replaces by another
    parametrisation of the same family (e.g. ``median`` for ``mu``) are dropped; a
    changed ``dist`` starts from the common keys only (source, unit, note, ...).
    """
    if name not in raw:
        raise ctx.error(
            key,
            f"no parameter called {name!r} to change{did_you_mean(name, raw)} "
            "(change_parameters changes keys of an existing parameter; to add one, "
            "use parameters)",
        )
    base = dict(raw[name])
    family = change.get("dist", base.get("dist"))
    allowed = set(_COMMON) | {"dist"} | _family_keys(family)
    for k in change:
        if k not in allowed:
            raise ctx.error(
                f"{key}.{k}",
                f"unknown key for a {family} parameter{did_you_mean(k, sorted(allowed))} "
                "(see docs/model-format.md)",
            )
    if "dist" in change and change["dist"] != base.get("dist"):
        base = {k: v for k, v in base.items() if k in _COMMON}
    else:
        own = _family_keys(family)
        if own and any(k in own for k in change):
            # a new parametrisation replaces the old one; unchanged family keys that
            # belong to the new one are kept (e.g. change only ``mean`` of mean/sd)
            keep = _parametrisation_of(family, {**base, **change}, set(change))
            base = {k: v for k, v in base.items() if k not in own or k in keep}
    return {**base, **change}


def _family_keys(family: Any) -> set[str]:
    from mkba_sim.distributions.registry import FAMILIES

    cls = FAMILIES.get(family) if isinstance(family, str) else None
    return set() if cls is None else cls.allowed_keys()


def _parametrisation_of(family: Any, merged: Mapping[str, Any], changed: set[str]) -> set[str]:
    """Keys of the parametrisation of ``family`` that contains every changed family key
    (the first such, in the family's order), plus the optional keys."""
    from mkba_sim.distributions.registry import FAMILIES

    cls = FAMILIES[family]
    own_changed = changed & _family_keys(family)
    optional = set(getattr(cls, "optional_keys", ()))
    for p in cls.parametrisations:
        if (own_changed - optional) <= set(p) and all(k in merged for k in p):
            return set(p) | optional
    return _family_keys(family)


def _changed_item(
    name: str, change: Mapping[str, Any], specs: Mapping[str, ItemSpec], ctx: _Ctx, key: str
) -> ItemSpec:
    """The item ``name`` as written, with the keys of ``change`` set or replaced."""
    if name not in specs:
        raise ctx.error(
            key,
            f"no item called {name!r} to change{did_you_mean(name, specs)} "
            "(change_items changes keys of an existing item; to add one, use items)",
        )
    fields = [f for f in ItemSpec.model_fields if f != "name"]
    for k in change:
        if k not in fields:
            hint = " (an item's name cannot be changed)" if k == "name" else ""
            raise ctx.error(f"{key}.{k}", f"unknown item key{did_you_mean(k, fields)}{hint}")
    try:
        return ItemSpec.model_validate({**specs[name].model_dump(), **change})
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(x) for x in first["loc"] if x not in ("str", "float", "int"))
        raise ctx.error(f"{key}.{loc}", _pydantic_message(first)) from None


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
    _check_dependent(parts, ctx, where)
    known = set(seen)
    item_names: set[str] = set()
    for i, it in enumerate(parts.items):
        key = f"items[{i}] ({it.name!r})"
        if it.name in item_names:
            raise ctx.error(key, f"two items are called {it.name!r}{where}")
        item_names.add(it.name)
        for ex in it.expressions:
            what = "decay" if ex is it.decay_expr else "value"
            for ref in sorted(ctx.names(ex) - known - {YEAR}):
                raise ctx.error(
                    f"{key}.{what}",
                    f"refers to undefined name {ref!r}{where}{did_you_mean(ref, known)}",
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
        if YEAR in refs:
            raise ctx.error(
                f"derived.{n}",
                "'year' is only defined in item values (each listed year in turn); a "
                "[derived] quantity has one value per draw: use 'year' in the item instead",
            )
        for ref in sorted(refs):
            if ref not in known:
                raise ctx.error(
                    f"derived.{n}",
                    f"refers to undefined name {ref!r}{where}{did_you_mean(ref, known)}",
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


def _check_dependent(parts: _Parts, ctx: _Ctx, where: str) -> None:
    """Parameters with expression-valued keys: names they use exist, are populations or
    parameters, and do not refer to each other in a circle (:mod:`graphlib`)."""
    usable = set(parts.populations) | set(parts.parameters)
    for n, p in parts.parameters.items():
        if not isinstance(p.dist, Dependent):
            continue
        for k, arg in zip(keys_of(p.dist.kind), p.dist.args, strict=True):
            _check_dependent_refs(n, k, ctx.names(arg), parts, usable, ctx, where)
    graph = dependency_graph(parts.parameters)
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as exc:
        cycle = _cycle(exc, list(parts.parameters))
        raise ctx.error(
            f"parameters.{cycle[0]}", f"circular reference: {' -> '.join(cycle)}{where}"
        ) from None


def _check_dependent_refs(
    n: str,
    k: str,
    refs: Iterable[str],
    parts: _Parts,
    usable: set[str],
    ctx: _Ctx,
    where: str,
) -> None:
    for ref in sorted(refs):
        if ref == YEAR:
            raise ctx.error(
                f"parameters.{n}.{k}",
                f"'year' is only defined in item values{where}; a parameter has one value per draw",
            )
        if ref in parts.derived:
            raise ctx.error(
                f"parameters.{n}.{k}",
                f"refers to derived quantity {ref!r}{where}: a distribution's keys may "
                "use populations and other parameters only (derived quantities are "
                "computed after the parameters are drawn)",
            )
        if ref not in usable:
            raise ctx.error(
                f"parameters.{n}.{k}",
                f"refers to undefined name {ref!r}{where}{did_you_mean(ref, usable)}",
            )


def _used_names(scenario: Scenario, ctx: _Ctx) -> set[str]:
    """Names the ledger depends on, directly or through derived quantities."""
    deps: dict[str, Any] = {d.name: ctx.names(d.expr) for d in scenario.derived}
    deps.update({n: dependent_refs(p.dist) for n, p in scenario.parameters.items()})
    todo = [n for it in scenario.items for ex in it.expressions for n in ctx.names(ex)]
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
                    f"nothing{did_you_mean(n, _unused_hint(used, scenario))}",
                )


def _unused_hint(used: Iterable[str], scenario: Scenario) -> list[str]:
    return sorted(set(used) & (set(scenario.parameters) | {d.name for d in scenario.derived}))


def _check_units(parts: _Parts, derived: list[Derived], ctx: _Ctx, where: str) -> None:
    units: dict[str, Unit | None] = {}
    for n in parts.populations:
        units[n] = population_unit(n, parts.pop_units.get(n))
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
    units[YEAR] = parse_unit("year")  # in item values: the year, 1..horizon
    for i, it in enumerate(parts.items):
        key = f"items[{i}] ({it.name!r})"
        if it.decay_expr is not None:
            _check_decay_unit(it.decay_expr, units, ctx, f"{key}.decay", where)
        got = None  # the unit of the item's value(s)
        for ex in it.values or (it.expr,):
            try:
                got_ex = infer_unit(ex, units)
                if got is not None and got_ex is not None:
                    got_ex = infer_unit_same(got, got_ex)
            except UnitError as exc:
                raise ctx.error(f"{key}.value", f"unit mismatch: {exc}{where}") from None
            got = got_ex
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


def infer_unit_same(a: Any, b: Any) -> Any:
    """The common unit of two years' values of one item (raises if they differ)."""
    if isinstance(a, Unit) and isinstance(b, Unit) and a != b:
        raise UnitError(f"the years' values have different units, {a} and {b}")
    return b if isinstance(b, Unit) else a


def _check_decay_unit(
    expr: Node, units: Mapping[str, Unit | None], ctx: _Ctx, key: str, where: str
) -> None:
    try:
        got = infer_unit(expr, units)
    except UnitError as exc:
        raise ctx.error(key, f"unit mismatch: {exc}{where}") from None
    if isinstance(got, Unit) and got != Unit():
        raise ctx.error(key, f"a decay rate is a fraction per year, not {got}{where}")


def _correlation(
    spec: CorrelationSpec, params: Mapping[str, Parameter], ctx: _Ctx, key: str
) -> Correlation:
    n = len(spec.names)
    if len(set(spec.names)) != n:
        raise ctx.error(f"{key}.names", "a name appears twice")
    for i, name in enumerate(spec.names):
        if name not in params:
            raise ctx.error(
                f"{key}.names[{i}]", f"no parameter called {name!r}{did_you_mean(name, params)}"
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
                f"unknown scenario {p.scenario!r}{did_you_mean(p.scenario, scenarios)}",
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
                f"{did_you_mean(p.quantity, known)}",
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
                    f"choose one of {list(ev.outputs)}{did_you_mean(d.variable, ev.outputs)}",
                )
            if d.prior is not None and d.prior not in ev.variants:
                raise ctx.error(
                    f"{where}.{pname}.prior",
                    f"evidence block {ev.name!r} has no prior {d.prior!r}; choose one of "
                    f"{list(ev.variants)}{did_you_mean(d.prior, ev.variants)}",
                )
    return out
