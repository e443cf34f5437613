"""The structure of a model file, checked with pydantic.

Family-specific distribution keys are checked by the distribution classes; everything
else (which tables exist, which keys they take, their types) is declared here.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "CorrelationSpec",
    "FileSpec",
    "ItemSpec",
    "PerspectiveSpec",
    "PmSpec",
    "PopulationSpec",
    "PublishedSpec",
    "ScenarioSpec",
    "SettingsOverride",
    "SettingsSpec",
]

Number = float


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class SettingsSpec(_Strict):
    """``[model]``."""

    title: str = Field(min_length=1)
    price_year: int = Field(ge=1900, le=2200)
    currency: str = "EUR"
    horizon_years: int = Field(ge=1, le=200)
    discount_rate: Number = Field(default=0.0225, ge=0.0, lt=1.0)
    non_finite: Literal["stop", "drop"] = "stop"
    source: str = ""
    notes: str = ""
    per_participant: str | None = Field(default=None, min_length=1)


class SettingsOverride(_Strict):
    """Settings a scenario may change."""

    discount_rate: Number | None = Field(default=None, ge=0.0, lt=1.0)
    horizon_years: int | None = Field(default=None, ge=1, le=200)


class ItemSpec(_Strict):
    """``[[items]]``."""

    name: str = Field(min_length=1)
    side: Literal["cost", "benefit"]
    stakeholder: str = Field(min_length=1)
    value: str | Number | list[Any]  # list: one per year, checked by model.build
    years: list[int] = Field(min_length=1)
    decay: Number | str = 0.0  # a number in [0, 1) or an expression, checked by model.build
    unit: str | None = None
    source: str = ""
    note: str = ""


class PmSpec(_Strict):
    """``[[pm]]``: a non-monetised effect."""

    name: str = Field(min_length=1)
    side: Literal["cost", "benefit", "both", "unknown"]
    note: str = ""
    source: str = ""


class CorrelationSpec(_Strict):
    """``[[correlations]]``."""

    kind: Literal["gaussian", "spearman"] = "gaussian"
    names: list[str] = Field(min_length=2)
    matrix: list[list[Number]]


class PublishedSpec(_Strict):
    """``[[published]]``: a figure from the study's tables."""

    quantity: str = Field(min_length=1)
    scenario: str = "base"
    value: Number
    low: Number | None = None
    high: Number | None = None
    decimals: int = Field(default=0, ge=0, le=6)
    source: str = Field(min_length=1)
    note: str = ""


class DerivedSpec(_Strict):
    """A ``[derived]`` entry written as a table."""

    expr: str | Number
    unit: str | None = None
    note: str = ""


class ScenarioSpec(_Strict):
    """``[scenarios.NAME]``."""

    description: str = ""
    extends: str | None = None
    model: SettingsOverride = SettingsOverride()
    populations: dict[str, Number] = {}
    parameters: dict[str, dict[str, Any]] = {}
    derived: dict[str, str | Number | DerivedSpec] = {}
    drop_items: list[str] = []
    items: list[ItemSpec] = []
    change_items: dict[str, dict[str, Any]] = {}
    change_parameters: dict[str, dict[str, Any]] = {}


class PopulationSpec(_Strict):
    """A ``[populations]`` entry written as a table (value with its unit)."""

    value: Number
    unit: str | None = None
    source: str = ""
    note: str = ""


class PerspectiveSpec(_Strict):
    """``[perspectives.NAME]``: a named group of stakeholders with its own balance."""

    stakeholders: list[str] = Field(min_length=1)
    description: str = ""


class FileSpec(_Strict):
    """A whole model file."""

    model: SettingsSpec
    populations: dict[str, Number | PopulationSpec] = {}
    stakeholders: dict[str, str] = {}
    perspectives: dict[str, PerspectiveSpec] = {}
    parameters: dict[str, dict[str, Any]] = {}
    derived: dict[str, str | Number | DerivedSpec] = {}
    items: list[ItemSpec] = Field(min_length=1)
    pm: list[PmSpec] = []
    scenarios: dict[str, ScenarioSpec] = {}
    correlations: list[CorrelationSpec] = []
    published: list[PublishedSpec] = []
    evidence: dict[str, dict[str, Any]] = {}
