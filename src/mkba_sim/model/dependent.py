"""Parameters whose distribution keys are expressions over other parameters and populations.

``[parameters.offences] dist = "poisson", mean = "2.7 * recidivists"`` makes
``offences`` a :class:`~mkba_sim.distributions.Dependent`: its arguments are expression
trees, evaluated per draw after the inputs they name (dependency order by
:mod:`graphlib`; a cycle is refused when the model is read). It keeps its own random
stream, so a correlation with it acts on its uniform as for any other parameter.

The expression trees are structure (they are compiled into the kernel) and their
literal numbers are data (constant slots), as for derived quantities and items.
"""

from __future__ import annotations

import graphlib
from collections.abc import Mapping
from typing import Any

from mkba_sim.distributions import Dependent
from mkba_sim.distributions.dependent import central
from mkba_sim.model.expressions import evaluate, names
from mkba_sim.model.types import Parameter, Scenario

__all__ = ["complete_inputs", "dependency_graph", "dependent_refs", "parameter_order"]


def dependent_refs(dist: Any) -> set[str]:
    """Names the arguments of a dependent distribution refer to (empty for any other)."""
    if not isinstance(dist, Dependent):
        return set()
    out: set[str] = set()
    for a in dist.args:
        out |= names(a)
    return out


def dependency_graph(params: Mapping[str, Parameter]) -> dict[str, set[str]]:
    """Parameter -> the parameters its distribution's expressions use."""
    return {n: {r for r in dependent_refs(p.dist) if r in params} for n, p in params.items()}


def parameter_order(params: Mapping[str, Parameter]) -> list[str]:
    """Parameter names with every dependent parameter after the ones it uses: the
    ordinary parameters in file order, then the dependent ones in dependency order.

    Raises
    ------
    graphlib.CycleError
        If the dependent parameters refer to each other in a circle (the model builder
        turns it into an error naming the cycle).
    """
    plain = [n for n, p in params.items() if not isinstance(p.dist, Dependent)]
    graph = {n: deps for n, deps in dependency_graph(params).items() if n not in plain}
    graph = {n: {d for d in deps if d in graph} for n, deps in graph.items()}
    return plain + list(graphlib.TopologicalSorter(graph).static_order())


def complete_inputs(scenario: Scenario, values: Mapping[str, float]) -> dict[str, float]:
    """``values`` with every dependent parameter missing from it filled in, in dependency
    order, by :func:`~mkba_sim.distributions.dependent.central` of its arguments (the
    distribution's mean at these inputs; for an effect size, the conversion of its point
    estimate)."""
    out = dict(values)
    env: dict[str, Any] = {**scenario.populations, **out}
    for name in parameter_order(scenario.parameters):
        dist = scenario.parameters[name].dist
        if name in out or not isinstance(dist, Dependent):
            continue
        args = [float(evaluate(a, env)) for a in dist.args]
        out[name] = env[name] = central(dist.kind, *args)
    return out
