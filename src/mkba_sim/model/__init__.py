"""Model files: schema, validation, the safe expression language, units, scenarios.

Layer rule: imports ``mkba_sim.distributions`` and ``mkba_sim.errors`` only; no file
I/O (``mkba_sim.io.model_files`` reads the TOML and hands a dict to :func:`build_model`).
Expressions are parsed with :mod:`ast` into a whitelisted tree; nothing is ever passed
to ``eval`` or ``exec``.
"""

from mkba_sim.model.build import build_model
from mkba_sim.model.evaluate import Totals, evaluate_scenario
from mkba_sim.model.expressions import ExpressionError, Node, parse_expression
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

__all__ = [
    "Correlation",
    "Derived",
    "ExpressionError",
    "Item",
    "Model",
    "Node",
    "Parameter",
    "PmItem",
    "PublishedFigure",
    "Scenario",
    "Settings",
    "Totals",
    "build_model",
    "evaluate_scenario",
    "parse_expression",
]
