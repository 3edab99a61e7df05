"""Scenario files (TOML): the board and its overrides, the instruments, the fundamental, the
population, days, seeds and recording options; validated strictly before any run.

Every key is in `SPEC` (top level and tables) or `POPULATION` (per agent kind) with its type,
default, allowed range and meaning; docs/scenarios.md lists them. A misfit raises
`ScenarioError` naming the file, the key and what is allowed.
"""

from __future__ import annotations

import datetime
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from exchange.rules.boards import board_presets, load_board
from exchange.rules.calendar import TradingCalendar
from exchange.schema import SchemaError, deep_merge, read_text

SCENARIO_DIR = Path(__file__).with_name("scenarios")
CLASSES = ("equity", "convertible_bond", "preferred_share")
KINDS = ("investor", "qualified_institution", "market_maker")


class ScenarioError(ValueError):
    """A scenario that does not fit its schema: the message names the file, key and allowed."""


@dataclass(frozen=True)
class Key:
    """One scenario key: type, default (None: required), allowed range and meaning."""

    kind: type | tuple[type, ...]
    default: Any
    allowed: str
    meaning: str
    check: Any = None  # callable(value) -> bool


def _positive(x: float) -> bool:
    return x > 0


def _not_negative(x: float) -> bool:
    return x >= 0


def _share(x: float) -> bool:
    return 0 <= x <= 1


def _time(text: str) -> bool:
    try:
        datetime.time.fromisoformat(text)
    except ValueError:
        return False
    return True


def _date(text: str) -> bool:
    try:
        datetime.date.fromisoformat(text)
    except ValueError:
        return False
    return True


NUMBER = (int, float)
SPEC: dict[str, dict[str, Key]] = {
    "": {
        "extends": Key(str, "", "a shipped name or a .toml path", "the scenario this one varies"),
        "name": Key(str, "", "text", "the scenario's name (default: the file's stem)"),
        "description": Key(str, "", "text", "one line on what the scenario shows"),
        "seeds": Key(int, 8, ">= 1", "seeds a study runs by default (0 .. seeds-1)", _positive),
        "days": Key(int, 1, ">= 1", "trading days simulated", _positive),
        "start": Key(str, "2025-03-03", "YYYY-MM-DD, a trading day", "first trading day", _date),
        "calendar": Key(str, "cn", "a calendar preset or .toml", "the trading calendar"),
    },
    "board": {
        "preset": Key(str, None, ", ".join(board_presets()), "the board preset extended"),
        "overrides": Key(dict, {}, "board keys (docs/boards.md)", "deep-merged over the preset"),
    },
    "instruments": {
        "symbol": Key(str, None, "text", "the instrument's symbol"),
        "class": Key(str, "equity", ", ".join(CLASSES), "instrument class on the board"),
        "previous_close": Key(int, None, "> 0", "reference price, price units", _positive),
        "shares": Key(int, None, "> 0", "shares issued, spread over the holders", _positive),
    },
    "fundamental": {
        "scale": Key(int, 1, "> 0", "price units per unit of r_bar, sigma and shocks", _positive),
        "r_bar": Key(NUMBER, 0, ">= 0 (0: previous close)", "long-run mean", _not_negative),
        "kappa": Key(NUMBER, 1.67e-16, ">= 0", "mean reversion per ns", _not_negative),
        "sigma": Key(NUMBER, 5e-5, ">= 0", "volatility: std per sqrt(ns)", _not_negative),
        "megashock_lambda": Key(NUMBER, 2.77778e-18, ">= 0", "shock rate per ns", _not_negative),
        "megashock_mean": Key(NUMBER, 1000.0, ">= 0", "mean absolute shock", _not_negative),
        "megashock_var": Key(NUMBER, 50_000.0, ">= 0", "shock variance", _not_negative),
        "sample_s": Key(NUMBER, 60.0, "> 0", "recording interval of the path, s", _positive),
    },
    "recording": {
        "quote_interval_s": Key(NUMBER, 1.0, "> 0", "quote sampling interval, s", _positive),
    },
}
COMMON: dict[str, Key] = {
    "kind": Key(
        str,
        None,
        ", ".join(("convertible", "informed", "noise", "value", "momentum", "market_maker")),
        "agent type",
    ),
    "count": Key(int, 1, ">= 1", "participants of this population", _positive),
    "latency_us": Key(NUMBER, 100.0, "> 0", "one-way latency to the venue, us", _positive),
    "cash": Key(int, 10_000_000_000, ">= 0", "cash per participant, 1/10000 CNY", _not_negative),
    "shares": Key(int, 0, ">= 0", "shares of each instrument per participant", _not_negative),
    "participant_kind": Key(str, "investor", ", ".join(KINDS), "account kind on the board"),
    "assets": Key(int, 10_000_000_000, ">= 0", "declared assets (investor gate)", _not_negative),
}
VALUATION: dict[str, Key] = {  # the keys convertible and preferred traders share
    "wake_s": Key(NUMBER, 120.0, "> 0", "mean time between wakes (Poisson), s", _positive),
    "threshold_bp": Key(
        NUMBER, 50.0, ">= 0", "distance from the value to quote or take, bp", _not_negative
    ),
    "view_bp": Key(
        NUMBER, 100.0, ">= 0", "how much their valuations differ (std), bp", _not_negative
    ),
    "rate": Key(NUMBER, 0.02, "any", "risk-free rate, continuous, decimal"),
    "credit_spread": Key(NUMBER, 0.03, ">= 0", "issuer's credit spread, decimal", _not_negative),
}
POPULATION: dict[str, dict[str, Key]] = {
    "convertible": {
        "terms": Key(
            str,
            "convertible.toml",
            "a terms file (or one in instruments/data)",
            "the bond's terms; its symbol and underlying must be listed",
        ),
        **VALUATION,
        "wake_s": Key(NUMBER, 60.0, "> 0", "mean time between wakes (Poisson), s", _positive),
        "size": Key(int, 10, ">= 1", "order size, bonds (rounded to whole lots)", _positive),
        "volatility": Key(
            NUMBER, 0.35, ">= 0", "the share's annual volatility they assume", _not_negative
        ),
        "steps": Key(int, 200, ">= 2", "lattice steps", lambda x: x >= 2),
    },
    "preferred": {
        "terms": Key(
            str,
            "preferred.toml",
            "a terms file (or one in instruments/data)",
            "the preferred share's terms; its symbol must be listed",
        ),
        **VALUATION,
        "size": Key(int, 100, ">= 1", "order size, shares (rounded to whole lots)", _positive),
    },
    "informed": {
        "wake_s": Key(NUMBER, 60.0, "> 0", "mean time between wakes (Poisson), s", _positive),
        "lead_s": Key(
            NUMBER, 300.0, ">= 0", "how far ahead they see the fundamental, s", _not_negative
        ),
        "threshold_bp": Key(
            NUMBER, 20.0, ">= 0", "smallest gap to the mid they trade on, bp", _not_negative
        ),
        "size": Key(int, 500, ">= 1", "order size, shares (rounded to whole lots)", _positive),
    },
    "noise": {
        "from": Key(str, "09:00", "HH:MM[:SS] local", "earliest wake (one order a day)", _time),
        "until": Key(str, "16:00", "HH:MM[:SS] local", "latest wake", _time),
    },
    "value": {
        "lambda_a": Key(NUMBER, 5.7e-12, "> 0", "wake rate per ns (Poisson)", _positive),
        "kappa": Key(
            NUMBER, 1.67e-15, ">= 0", "the agents' belief of mean reversion / ns", _not_negative
        ),
        "sigma_n": Key(
            NUMBER, 0.0, ">= 0 (0: r_bar/100)", "observation noise variance", _not_negative
        ),
        "percent_aggr": Key(NUMBER, 0.1, "0..1", "share of orders at the touch", _share),
        "depth_spread": Key(
            NUMBER, 2.0, ">= 0", "orders up to this many spreads deep", _not_negative
        ),
        "min_edge_costs": Key(
            NUMBER,
            0.0,
            ">= 0 (0: ignore costs, as ABIDES)",
            "trade only when the expected gain, |value - mid| / mid, exceeds this many round-trip "
            "fee rates",
            _not_negative,
        ),
    },
    "momentum": {
        "wake_s": Key(NUMBER, 37.0, "> 0", "mean time between wakes (Poisson), s", _positive),
        "min_size": Key(int, 1, ">= 1", "smallest order, shares", _positive),
        "max_size": Key(int, 10, ">= min_size", "largest order, shares", _positive),
        "short": Key(int, 20, ">= 1", "short moving average, observations", _positive),
        "long": Key(int, 50, "> short", "long moving average, observations", _positive),
    },
    "market_maker": {
        "wake_s": Key(NUMBER, 60.0, "> 0", "mean time between re-quotes (Poisson), s", _positive),
        "pov": Key(NUMBER, 0.025, "0..1", "quoted size as a share of the volume seen", _share),
        "levels": Key(int, 10, ">= 1", "price levels quoted each side", _positive),
        "level_spacing": Key(NUMBER, 5.0, "> 0", "levels across one observed spread", _positive),
        "spread_alpha": Key(NUMBER, 0.75, "0..1", "EWMA weight of the observed spread", _share),
        "skew_beta": Key(
            NUMBER, 0.0, ">= 0", "ticks the ladder moves per 1,000 shares held", _not_negative
        ),
        "min_order_size": Key(int, 1, ">= 1", "smallest quote per level, shares", _positive),
        "max_spread_ticks": Key(
            int, 0, ">= 0 (0: no cap)", "widest spread quoted, ticks", _not_negative
        ),
    },
}


@dataclass(frozen=True)
class Scenario:
    """A validated scenario: plain values, ready for `simulation.run.simulate`."""

    name: str
    source: str  # the file (or "<text>")
    description: str
    seeds: int
    days: int
    start: datetime.date
    calendar: str
    board: str  # preset name
    board_overrides: dict[str, Any]
    instruments: tuple[dict[str, Any], ...]
    fundamental: dict[str, Any]
    recording: dict[str, Any]
    population: tuple[dict[str, Any], ...] = field(default_factory=tuple)
    text: str = ""  # the whole scenario as one TOML (extends resolved): what a worker loads

    def board_table(self) -> dict[str, Any]:
        """Return the board file's table: the preset extended with the overrides."""
        return {"extends": self.board, **self.board_overrides}


def _fill(source: str, where: str, table: Any, spec: dict[str, Key]) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise ScenarioError(f"{source}: {where or 'the file'} must be a table")
    unknown = sorted(set(table) - set(spec))
    if unknown:
        raise ScenarioError(
            f"{source}: unknown key {where + '.' if where else ''}{unknown[0]}; "
            f"allowed: {', '.join(spec)}"
        )
    out = {}
    for key, rule in spec.items():
        name = f"{where}.{key}" if where else key
        if key not in table:
            if rule.default is None:
                raise ScenarioError(f"{source}: missing key {name} ({rule.allowed})")
            out[key] = rule.default
            continue
        value = table[key]
        kinds = rule.kind if isinstance(rule.kind, tuple) else (rule.kind,)
        if isinstance(value, bool) or not isinstance(value, kinds):
            allowed = " or ".join(k.__name__ for k in kinds)
            raise ScenarioError(
                f"{source}: {name} must be {allowed} ({rule.allowed}), got {value!r}"
            )
        if rule.check is not None and not rule.check(value):
            raise ScenarioError(f"{source}: {name} = {value!r} is not allowed: {rule.allowed}")
        out[key] = value
    return out


def shipped_scenarios() -> list[str]:
    """Return the names of the scenarios shipped in simulation/scenarios."""
    return sorted(path.stem for path in SCENARIO_DIR.glob("*.toml"))


def load_scenario(path_or_text: str | Path) -> Scenario:
    """Load a scenario: a shipped name (simulation/scenarios/NAME.toml), a .toml path or TOML
    text; raise ScenarioError naming the file, the key and what is allowed on any misfit."""
    text = str(path_or_text)
    if "\n" in text or "=" in text:
        source, stem, folder = "<text>", "scenario", Path.cwd()
    else:
        given = Path(text)
        path = given if given.is_file() or text.endswith(".toml") else SCENARIO_DIR / f"{text}.toml"
        if not path.is_file():
            raise ScenarioError(
                f"{path}: no such scenario (shipped: {', '.join(shipped_scenarios())})"
            )
        source, stem, text, folder = str(path), path.stem, _file_text(path), path.parent
    raw = _read(source, text, folder, ())
    sections = ("board", "instruments", "fundamental", "recording", "population")
    top = _fill(source, "", {k: v for k, v in raw.items() if k not in sections}, SPEC[""])
    board = _fill(source, "board", raw.get("board", {}), SPEC["board"])
    if board["preset"] not in board_presets():
        raise ScenarioError(
            f"{source}: board.preset = {board['preset']!r} is not allowed: "
            f"{SPEC['board']['preset'].allowed}"
        )
    instruments = raw.get("instruments", [])
    if not isinstance(instruments, list) or not instruments:
        raise ScenarioError(f"{source}: instruments must list at least one [[instruments]] table")
    listed = tuple(
        _fill(source, f"instruments[{i}]", x, SPEC["instruments"])
        for i, x in enumerate(instruments)
    )
    for i, x in enumerate(listed):
        if x["class"] not in CLASSES:
            raise ScenarioError(f"{source}: instruments[{i}].class = {x['class']!r} is not "
                                f"allowed: {', '.join(CLASSES)}")  # fmt: skip
    fundamental = _fill(source, "fundamental", raw.get("fundamental", {}), SPEC["fundamental"])
    recording = _fill(source, "recording", raw.get("recording", {}), SPEC["recording"])
    population = raw.get("population", [])
    if not isinstance(population, list) or not population:
        raise ScenarioError(f"{source}: population must list at least one [[population]] table "
                            f"(kinds: {', '.join(POPULATION)})")  # fmt: skip
    groups = []
    for i, group in enumerate(population):
        where = f"population[{i}]"
        kind = group.get("kind") if isinstance(group, dict) else None
        if kind not in POPULATION:
            raise ScenarioError(f"{source}: {where}.kind = {kind!r} is not allowed: "
                                f"{', '.join(POPULATION)}")  # fmt: skip
        filled = _fill(source, where, group, {**COMMON, **POPULATION[kind]})
        if filled["participant_kind"] not in KINDS:
            raise ScenarioError(f"{source}: {where}.participant_kind is not allowed: "
                                f"{', '.join(KINDS)}")  # fmt: skip
        if kind == "momentum" and not (
            filled["max_size"] >= filled["min_size"] and filled["long"] > filled["short"]
        ):
            raise ScenarioError(f"{source}: {where}: need max_size >= min_size, long > short")
        if kind in ("convertible", "preferred"):
            _check_valued(source, where, kind, filled["terms"], listed, top["start"])
        groups.append(filled)
    scenario = Scenario(
        name=top["name"] or stem, source=source, description=top["description"],
        seeds=top["seeds"], days=top["days"], start=datetime.date.fromisoformat(top["start"]),
        calendar=top["calendar"], board=board["preset"], board_overrides=board["overrides"],
        instruments=listed, fundamental=fundamental, recording=recording,
        population=tuple(groups), text=_canonical(raw, top["name"] or stem),
    )  # fmt: skip
    _check_board(scenario)
    try:
        calendar = TradingCalendar.load(scenario.calendar)
        calendar.day_number(scenario.start)
    except (ValueError, SchemaError) as error:
        raise ScenarioError(f"{source}: start/calendar: {error}") from None
    return scenario


MAX_EXTENDS = 8  # files in an extends chain
ADDED = {"instruments", "population"}  # arrays of tables a variant adds to its base's


def _file_text(path: Path) -> str:
    """Return a scenario file's text (UTF-8, at most 1 MiB, as every TOML reader here)."""
    try:
        return read_text(path)
    except SchemaError as error:
        raise ScenarioError(str(error)) from None


def _read(source: str, text: str, folder: Path, chain: tuple[str, ...]) -> dict[str, Any]:
    """Parse a scenario's TOML and, if it `extends` another, merge it over that one.

    Tables merge key by key; [[instruments]] and [[population]] tables add to the base's; the
    base's name and description are not inherited. A path in `extends` is relative to the file.
    """
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ScenarioError(f"{source}: not TOML: {error}") from None
    base_name = raw.pop("extends", None)
    if base_name is None:
        return raw
    if not isinstance(base_name, str):
        raise ScenarioError(f"{source}: extends must be str (a shipped name or a .toml path)")
    base = folder / base_name if base_name.endswith(".toml") else SCENARIO_DIR / f"{base_name}.toml"
    if str(base.resolve()) in chain or len(chain) >= MAX_EXTENDS:
        raise ScenarioError(f"{source}: extends = {base_name!r} makes a circle or a chain "
                            f"longer than {MAX_EXTENDS} files")  # fmt: skip
    if not base.is_file():
        shipped = ", ".join(shipped_scenarios())
        raise ScenarioError(f"{source}: extends = {base_name!r}: no such scenario ({shipped})")
    merged = _read(str(base), _file_text(base), base.parent, (*chain, str(base.resolve())))
    for key in ("name", "description"):
        merged.pop(key, None)
    return _merge(merged, raw)


def _canonical(raw: dict[str, Any], name: str) -> str:
    """Return the merged scenario as TOML text with its name (loads to the same Scenario)."""
    import tomli_w

    return tomli_w.dumps({**raw, "name": name})


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Return `over` merged into `base`: tables key by key, [[instruments]] and [[population]]
    added to the base's."""
    merged = deep_merge(base, {k: v for k, v in over.items() if k not in ADDED})
    for key in ADDED & over.keys():
        both = isinstance(base.get(key), list) and isinstance(over[key], list)
        merged[key] = [*base[key], *over[key]] if both else over[key]
    return merged


def _check_valued(
    source: str, where: str, kind: str, name: str, listed: tuple[dict, ...], start: str
) -> None:
    """Refuse valuation traders whose terms do not load, whose instruments are not listed, or
    whose instrument does not exist on the first day."""
    from instruments.terms import ConvertibleTerms, PreferredTerms, TermsError
    from simulation.agents import model_terms

    want = ConvertibleTerms if kind == "convertible" else PreferredTerms
    try:
        terms = model_terms(name, want)
    except (TermsError, ValueError, OSError) as error:
        raise ScenarioError(f"{source}: {where}.terms: {error}") from None
    classes = {x["symbol"]: x["class"] for x in listed}
    cls = "convertible_bond" if kind == "convertible" else "preferred_share"
    needed = [terms.underlying] if kind == "convertible" else []
    if classes.get(terms.symbol) != cls or any(n not in classes for n in needed):
        also = f" and its share {terms.underlying}" if needed else ""
        raise ScenarioError(f"{source}: {where}.terms: list {terms.symbol} (class {cls}){also} "
                            f"among the instruments")  # fmt: skip
    end = getattr(terms, "maturity_date", datetime.date.max)
    if not terms.issue_date <= datetime.date.fromisoformat(start) < end:
        raise ScenarioError(f"{source}: {where}.terms: start {start} is outside the life of "
                            f"{terms.symbol} ({terms.issue_date}..{end})")  # fmt: skip


def write_board(scenario: Scenario, directory: Path) -> Path:
    """Write the scenario's board (its preset extended with the overrides) as a board TOML."""
    import tomli_w

    path = directory / f"{scenario.board}.toml"
    path.write_text(tomli_w.dumps(scenario.board_table()))
    return path


def _check_board(scenario: Scenario) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as directory:
        try:
            board = load_board(write_board(scenario, Path(directory)))
        except (SchemaError, ValueError, TypeError) as error:
            raise ScenarioError(f"{scenario.source}: board.overrides: {error}") from None
    for i, x in enumerate(scenario.instruments):
        if x["class"] not in board.classes:
            lists = ", ".join(board.classes)
            raise ScenarioError(
                f"{scenario.source}: instruments[{i}].class = {x['class']!r}: "
                f"board {scenario.board} lists {lists}"
            )
