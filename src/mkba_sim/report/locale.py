"""Languages of the HTML report: number formats (Babel) and the wording (nl, en).

Numbers follow the language's CLDR conventions through Babel (imported lazily):
Dutch ``1.234.567``, ``12,3%`` and ``€ -36.125``; English ``1,234,567``, ``12.3%`` and
``-€36,125``.

The verdict sentence follows from P(net > 0) by fixed bands (:data:`VERDICT_BANDS`), in
the wording of the Dutch guidance on interpreting MKBA uncertainty (SEE/RWS: "het is
onzeker of de baten de kosten overtreffen").
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["LANGUAGES", "TEXT", "VERDICT_BANDS", "Formatter", "verdict"]

LANGUAGES = ("nl", "en")
_LOCALE = {"nl": "nl_NL", "en": "en_GB"}
_MONEY = {"nl": "¤ #,##0;¤ -#,##0", "en": "¤#,##0;-¤#,##0"}

#: (lower bound of P(net > 0), key of the wording); the first band whose bound is met.
VERDICT_BANDS: tuple[tuple[float, str], ...] = (
    (0.95, "almost_certain"),
    (0.80, "probable"),
    (0.20, "uncertain"),
    (0.05, "improbable"),
    (0.00, "almost_certainly_not"),
)

_VERDICTS: dict[str, dict[str, str]] = {
    "nl": {
        "almost_certain": "De baten overtreffen vrijwel zeker de kosten",
        "probable": "De baten overtreffen waarschijnlijk de kosten",
        "uncertain": "Het is onzeker of de baten de kosten overtreffen",
        "improbable": "De kosten overtreffen waarschijnlijk de baten",
        "almost_certainly_not": "De kosten overtreffen vrijwel zeker de baten",
        "undefined": "Er is geen uitspraak mogelijk: geen enkele trekking gaf een eindig saldo",
    },
    "en": {
        "almost_certain": "The benefits almost certainly exceed the costs",
        "probable": "The benefits probably exceed the costs",
        "uncertain": "It is uncertain whether the benefits exceed the costs",
        "improbable": "The costs probably exceed the benefits",
        "almost_certainly_not": "The costs almost certainly exceed the benefits",
        "undefined": "No verdict is possible: no draw gave a finite balance",
    },
}


def verdict(p: float | None, lang: str) -> tuple[str, str]:
    """The band key and the sentence (without full stop) for P(net > 0) = ``p``.

    Bands: p ≥ 0.95 almost certain; 0.80 ≤ p < 0.95 probable; 0.20 ≤ p < 0.80
    uncertain; 0.05 ≤ p < 0.20 improbable; p < 0.05 almost certainly not.

    Examples
    --------
    >>> verdict(0.9, "nl")
    ('probable', 'De baten overtreffen waarschijnlijk de kosten')
    """
    words = _VERDICTS[_check(lang)]
    if p is None or not math.isfinite(p):
        return "undefined", words["undefined"]
    for bound, key in VERDICT_BANDS:
        if p >= bound:
            return key, words[key]
    return "almost_certainly_not", words["almost_certainly_not"]


def _check(lang: str) -> str:
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}; choose one of {', '.join(LANGUAGES)}")
    return lang


@dataclass(frozen=True)
class Formatter:
    """Numbers as text in one language (Babel, CLDR data); ``None``/NaN as "n/a"."""

    lang: str
    currency: str = "EUR"

    def __post_init__(self) -> None:
        _check(self.lang)

    @property
    def locale(self) -> str:
        """The Babel locale (``nl_NL`` or ``en_GB``)."""
        return _LOCALE[self.lang]

    def na(self) -> str:
        """The text for a missing or undefined value."""
        return TEXT[self.lang]["na"]

    def number(self, x: float | None, decimals: int = 0) -> str:
        """``1.234.567`` (nl) / ``1,234,567`` (en), fixed decimals; ``-0`` as ``0``."""
        if x is None or not math.isfinite(x):
            return self.na()
        from babel.numbers import format_decimal

        pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
        x = round(x, decimals) + 0.0  # -0.0 + 0.0 == 0.0
        return str(format_decimal(x, format=pattern, locale=self.locale))

    def money(self, x: float | None) -> str:
        """An amount in whole currency units: ``€ 36.125`` (nl) / ``€36,125`` (en)."""
        if x is None or not math.isfinite(x):
            return self.na()
        from babel.numbers import format_currency

        x = round(x) + 0.0
        return str(
            format_currency(
                x,
                self.currency,
                format=_MONEY[self.lang],
                locale=self.locale,
                currency_digits=False,
            )
        )

    def pct(self, p: float | None, decimals: int = 1) -> str:
        """A probability or share as a percentage: ``77,5%`` (nl) / ``77.5%`` (en)."""
        if p is None or not math.isfinite(p):
            return self.na()
        from babel.numbers import format_percent

        pattern = "#,##0" + ("." + "0" * decimals if decimals else "") + "%"
        return str(format_percent(p, format=pattern, locale=self.locale))

    def interval(self, iv: Any) -> str:
        """A 90% interval of amounts: ``€ -12.000 tot € 80.000`` / ``-€12,000 to €80,000``."""
        lo, hi = (iv[0], iv[1]) if iv is not None else (None, None)
        return f"{self.money(lo)} {TEXT[self.lang]['to']} {self.money(hi)}"

    def value(self, x: float | None, unit: str | None = None) -> str:
        """A model input: up to 4 significant digits, with its unit."""
        if x is None or not math.isfinite(x):
            return self.na()
        decimals = 0 if abs(x) >= 100 or x == int(x) else max(0, 3 - math.floor(math.log10(abs(x))))
        text = self.number(x, min(decimals, 4))
        return f"{text} {unit}" if unit and unit != "1" else text


#: Every fixed text of the report, by language. Keys are used by the templates as ``t.key``.
TEXT: dict[str, dict[str, str]] = {
    "nl": {
        "na": "n.v.t.",
        "to": "tot",
        "subtitle": "Maatschappelijke kosten-batenanalyse met onzekerheid — samenvatting",
        "summary": "Samenvatting",
        "scenario_main": "Hoofdscenario",
        "net": "Saldo (baten min kosten)",
        "net_mean": "Gemiddeld saldo",
        "interval90": "90%-interval",
        "interval90_long": "in 90% van de doorgerekende uitkomsten ligt het saldo tussen",
        "p_positive": "Kans op een positief saldo",
        "bcr": "Baten-kostenverhouding (mediaan)",
        "study": "De studie zelf",
        "study_note": "de cijfers zoals de studie ze publiceerde, naast de uitkomst van deze "
        "analyse",
        "this_analysis": "Deze analyse (gemiddelde)",
        "published_central": "Studie",
        "published_low": "Studie, laag",
        "published_high": "Studie, hoog",
        "benefits": "Baten",
        "costs": "Kosten",
        "overview": "Overzicht van baten en kosten",
        "item": "Post",
        "stakeholder": "Belanghebbende",
        "amount": "Bedrag (gemiddeld)",
        "pm": "PM",
        "pm_note": "PM-posten: effecten die wel zijn genoemd maar niet in geld zijn uitgedrukt. "
        "Ze tellen niet mee in het saldo.",
        "stakeholders": "Wie wint, wie betaalt?",
        "balance": "Saldo (gemiddeld)",
        "p_own_positive": "Kans op positief saldo",
        "drivers": "Wat de uitkomst het meest bepaalt",
        "drivers_intro": "De drie onzekere aannames met de grootste invloed op het saldo:",
        "driver_line": "{name}: bij een lage waarde is het verwachte saldo {low}, bij een hoge "
        "waarde {high}; deze aanname verklaart {share} van de spreiding.",
        "voi": "Wat betere informatie waard is",
        "voi_line": "Als alle onzekerheid over de aannames weggenomen kon worden, is dat naar "
        "verwachting {evpi} per besluit waard ({pop} over {years} jaar). Meer onderzoek dat "
        "duurder is dan dit bedrag loont niet.",
        "voi_zero": "Betere informatie zou het besluit vrijwel nooit veranderen: de verwachte "
        "waarde ervan is {evpi} per besluit.",
        "break_even": "Hoe duur mag het programma zijn?",
        "break_even_line": "Het verwachte saldo blijft positief zolang de totale kosten onder "
        "{mean} blijven; met 80% zekerheid bij kosten tot {p80}. De huidige kosten zijn "
        "gemiddeld {current}.",
        "verdict_p": "kans op een positief saldo: {p}",
        "all_scenarios": "Alle scenario's",
        "all_scenarios_intro": "Elk scenario is een andere set aannames; geen ervan is de "
        "'juiste'. Ze staan hier naast elkaar, op gelijke voet.",
        "scenario": "Scenario",
        "description": "Beschrijving",
        "distribution_caption": "Verdeling van het saldo over de trekkingen. Rechts van de "
        "zwarte lijn (saldo > 0) in blauw; de gestreepte lijnen zijn de cijfers van de studie.",
        "stakeholders_caption": "Saldo per belanghebbende: stip = gemiddelde, lijn = 90%-interval.",
        "per_year_caption": "Saldo per jaar (contante waarde).",
        "sensitivity": "Gevoeligheid en waarde van informatie",
        "sensitivity_intro": "Uitgewerkt voor scenario {scenario}.",
        "tornado_caption": "Tornadodiagram: het verwachte saldo als één aanname op zijn lage "
        "(5e percentiel) of hoge (95e percentiel) waarde staat en de rest onzeker blijft.",
        "variance_caption": "Aandeel van elke aanname in de spreiding van het saldo.",
        "evppi_caption": "Wat volledige informatie over één aanname naar verwachting waard is "
        "(EVPPI).",
        "break_even_caption": "Kans op een positief saldo bij andere totale kosten van het "
        "programma (aanvaardbaarheidscurve).",
        "evsi_line": "Een vervolgonderzoek dat {n} nieuwe deelnemers volgt{where}, is naar "
        "verwachting {evsi} per besluit waard ({pop} over {years} jaar) en kost {cost} "
        "({fixed} vast en {pp} per deelnemer; EVSI).",
        "evsi_where": " (scenario {scenario}, waarin de uitkomsten uit het Bayesiaanse model "
        "komen)",
        "evsi_pays": "Dat loont: de verwachte netto opbrengst van het onderzoek is het "
        "grootst bij {n} deelnemers ({enbs}).",
        "evsi_not": "Dat loont niet: bij geen enkele omvang van {lo} tot {hi} deelnemers weegt "
        "de waarde op tegen de kosten (de netto opbrengst is op zijn best {enbs}, bij {n} "
        "deelnemers).",
        "evsi_none": "De waarde van een vervolgonderzoek (EVSI) is niet berekend: geen "
        "aanname in deze scenario's komt uit een Bayesiaans deelmodel dat de uitkomst van "
        "zo'n onderzoek kan voorspellen.",
        "enbs_caption": "Waarde van een vervolgonderzoek (EVSI over alle cohorten, band: ± 2 "
        "standaardfouten), de kosten ervan en het verschil (ENBS), naar aantal deelnemers.",
        "assumptions": "Aannames",
        "assumptions_intro": "Elke invoer met de verdeling die deze analyse gebruikt, de "
        "waarde uit de studie, de eenheid en de bron.",
        "input": "Invoer",
        "distribution": "Verdeling",
        "published": "Waarde in de studie",
        "unit": "Eenheid",
        "source": "Bron",
        "perspectives": "Saldo per perspectief",
        "perspective": "Perspectief",
        "members": "Belanghebbenden",
        "per_participant": "Per deelnemer",
        "per_participant_intro": "Baten, kosten en saldo gedeeld door {population} (n = {n}).",
        "price_years": "Prijsjaren",
        "price_years_intro": "Deze invoer staat in prijzen van een ander jaar en is omgerekend "
        "naar prijzen van {year} met de consumentenprijsindex van het CBS ({source}).",
        "price_year_from": "Prijsjaar invoer",
        "cpi_factor": "Factor (CPI)",
        "default_published": "geen studiewaarde: puntschatting",
        "scenario_changes": "Afwijkende aannames per scenario",
        "notes": "Opmerkingen bij het model",
        "bayes": "Bayesiaans deelmodel",
        "bayes_intro": "Het scenario gebruikt trekkingen uit een Bayesiaans model dat op de "
        "casusgegevens is geschat. Controle van de schatting:",
        "bayes_passed": "geslaagd",
        "bayes_failed": "NIET geslaagd (toch gebruikt)",
        "provenance": "Herkomst",
        "model_file": "Modelbestand",
        "model_hash": "SHA-256 van het model",
        "seed": "Startwaarde (seed)",
        "draws": "Trekkingen",
        "sampler": "Steekproefmethode",
        "versions": "Versies",
        "created": "Gemaakt",
        "price_level": "Prijspeil",
        "thresholds": "De conclusie volgt uit de kans op een positief saldo: ≥ 95% "
        "'vrijwel zeker', 80–95% 'waarschijnlijk', 20–80% 'onzeker', 5–20% 'waarschijnlijk "
        "niet', < 5% 'vrijwel zeker niet'.",
        "figure": "Figuur",
        "contents": "Inhoud",
        "mean": "Gemiddelde",
    },
    "en": {
        "na": "n/a",
        "to": "to",
        "subtitle": "Social cost-benefit analysis with uncertainty — summary",
        "summary": "Summary",
        "scenario_main": "Main scenario",
        "net": "Net balance (benefits minus costs)",
        "net_mean": "Mean net balance",
        "interval90": "90% interval",
        "interval90_long": "in 90% of the simulated outcomes the net balance lies between",
        "p_positive": "Chance of a positive balance",
        "bcr": "Benefit-cost ratio (median)",
        "study": "The study itself",
        "study_note": "the figures as the study published them, beside this analysis",
        "this_analysis": "This analysis (mean)",
        "published_central": "Study",
        "published_low": "Study, low",
        "published_high": "Study, high",
        "benefits": "Benefits",
        "costs": "Costs",
        "overview": "Overview of benefits and costs",
        "item": "Item",
        "stakeholder": "Stakeholder",
        "amount": "Amount (mean)",
        "pm": "PM",
        "pm_note": "PM items (pro memorie): effects named but not valued in money. They are "
        "not part of the balance.",
        "stakeholders": "Who gains, who pays?",
        "balance": "Balance (mean)",
        "p_own_positive": "Chance of a positive balance",
        "drivers": "What matters most",
        "drivers_intro": "The three uncertain assumptions with the most influence on the balance:",
        "driver_line": "{name}: with a low value the expected balance is {low}, with a high "
        "value {high}; this assumption explains {share} of the spread.",
        "voi": "What better information is worth",
        "voi_line": "Removing all uncertainty about the assumptions is expected to be worth "
        "{evpi} per decision ({pop} over {years} years). Research costing more than this "
        "does not pay.",
        "voi_zero": "Better information would almost never change the decision: its expected "
        "value is {evpi} per decision.",
        "break_even": "How costly may the programme be?",
        "break_even_line": "The expected balance stays positive while the total costs stay "
        "below {mean}; with 80% certainty at costs up to {p80}. The current costs are "
        "{current} on average.",
        "verdict_p": "chance of a positive balance: {p}",
        "all_scenarios": "All scenarios",
        "all_scenarios_intro": "Each scenario is a different set of assumptions; none of them "
        "is 'the right one'. They are shown side by side, on equal footing.",
        "scenario": "Scenario",
        "description": "Description",
        "distribution_caption": "Distribution of the net balance over the draws. Right of the "
        "black line (balance > 0) in blue; the dashed lines are the study's figures.",
        "stakeholders_caption": "Balance per stakeholder: dot = mean, line = 90% interval.",
        "per_year_caption": "Net balance per year (present value).",
        "sensitivity": "Sensitivity and value of information",
        "sensitivity_intro": "Worked out for scenario {scenario}.",
        "tornado_caption": "Tornado diagram: the expected balance with one assumption at its "
        "low (5th percentile) or high (95th percentile) value and the others uncertain.",
        "variance_caption": "Each assumption's share of the spread of the balance.",
        "evppi_caption": "What perfect information about one assumption is expected to be "
        "worth (EVPPI).",
        "break_even_caption": "Chance of a positive balance at other total programme costs "
        "(acceptability curve).",
        "evsi_line": "A follow-up study of {n} new participants{where} is expected to be "
        "worth {evsi} per decision ({pop} over {years} years) and costs {cost} ({fixed} "
        "fixed and {pp} per participant; EVSI).",
        "evsi_where": " (scenario {scenario}, whose outcomes come from the Bayesian model)",
        "evsi_pays": "It pays: the expected net benefit of the study is highest with {n} "
        "participants ({enbs}).",
        "evsi_not": "It does not pay: at no size from {lo} to {hi} participants does its "
        "value outweigh its cost (its net benefit is at best {enbs}, with {n} "
        "participants).",
        "evsi_none": "The value of a follow-up study (EVSI) is not computed: no assumption "
        "in these scenarios comes from a Bayesian sub-model that can predict such a "
        "study's outcome.",
        "enbs_caption": "Value of a follow-up study (EVSI over all cohorts, band: ± 2 "
        "standard errors), its cost and the difference (ENBS), by number of participants.",
        "assumptions": "Assumptions",
        "assumptions_intro": "Every input with the distribution this analysis uses, the "
        "study's value, the unit and the source.",
        "input": "Input",
        "distribution": "Distribution",
        "published": "Study's value",
        "unit": "Unit",
        "source": "Source",
        "perspectives": "Balance per perspective",
        "perspective": "Perspective",
        "members": "Stakeholders",
        "per_participant": "Per participant",
        "per_participant_intro": "Benefits, costs and balance divided by {population} (n = {n}).",
        "price_years": "Price years",
        "price_years_intro": "These inputs are stated in prices of another year and converted "
        "to {year} prices with the CBS consumer-price index ({source}).",
        "price_year_from": "Input price year",
        "cpi_factor": "Factor (CPI)",
        "default_published": "no study value: point estimate",
        "scenario_changes": "Assumptions that differ per scenario",
        "notes": "Notes on the model",
        "bayes": "Bayesian sub-model",
        "bayes_intro": "This scenario uses draws from a Bayesian model fitted to the case "
        "data. Checks of the fit:",
        "bayes_passed": "passed",
        "bayes_failed": "NOT passed (used anyway)",
        "provenance": "Provenance",
        "model_file": "Model file",
        "model_hash": "SHA-256 of the model",
        "seed": "Seed",
        "draws": "Draws",
        "sampler": "Sampler",
        "versions": "Versions",
        "created": "Created",
        "price_level": "Price level",
        "thresholds": "The verdict follows from the chance of a positive balance: ≥ 95% "
        "'almost certainly', 80–95% 'probably', 20–80% 'uncertain', 5–20% 'probably not', "
        "< 5% 'almost certainly not'.",
        "figure": "Figure",
        "contents": "Contents",
        "mean": "Mean",
    },
}


def texts(lang: str) -> Mapping[str, str]:
    """The fixed texts of ``lang``."""
    return TEXT[_check(lang)]
