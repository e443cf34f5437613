"""The ``mkba-sim`` command: a thin shell over the public API.

Errors of the :class:`~mkba_sim.errors.MkbaError` family are printed as one line on
stderr, without a traceback, and the exit status is 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

import mkba_sim
from mkba_sim.errors import MkbaError

__all__ = ["main"]

REPLICATION_SCHEMA = "mkba_sim.replication/1"


def _cmd_validate(args: argparse.Namespace) -> int:
    model = mkba_sim.load_model(args.model)
    n_par = len(model.base.parameters)
    print(f"{args.model}: valid — {model.title!r}: {n_par} parameters, "
          f"{len(model.base.items)} items, scenarios: {', '.join(model.scenarios)}")
    return 0


def _cmd_replicate(args: argparse.Namespace) -> int:
    model = mkba_sim.load_model(args.model)
    rows = mkba_sim.replicate(model, scenario=args.scenario)
    if args.json:
        doc: dict[str, Any] = {
            "schema": REPLICATION_SCHEMA,
            "model": {"path": model.path, "title": model.title, "sha256": model.sha256},
            "rows": [r.as_dict() for r in rows],
            "all_match": all(r.difference == 0 for r in rows),
        }
        print(json.dumps(doc, indent=2))
    else:
        from mkba_sim.report.text import replication_table

        print(replication_table(model, rows))
    return 0 if all(r.difference == 0 for r in rows) else 1


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (also used to document the CLI)."""
    p = argparse.ArgumentParser(prog="mkba-sim", description=__doc__.splitlines()[0])
    p.add_argument("--version", action="version", version=f"mkba_sim {mkba_sim.__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    v = sub.add_parser("validate", help="check a model file")
    v.add_argument("model")
    v.set_defaults(func=_cmd_validate)

    r = sub.add_parser("replicate", help="every parameter at its published value, beside the "
                       "study's figures")
    r.add_argument("model")
    r.add_argument("--scenario", default=None, help="only this scenario's figures")
    r.add_argument("--json", action="store_true", help=f"JSON ({REPLICATION_SCHEMA})")
    r.set_defaults(func=_cmd_replicate)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mkba-sim`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except MkbaError as exc:
        print(f"mkba-sim: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("mkba-sim: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
