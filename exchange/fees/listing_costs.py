"""What listing on a board and being traded there cost a firm, year by year, itemised.

Year 1 is the firm's first listed year. On each board (its fee schedule,
exchange/fees/schedule.py) the firm pays the one-off listing fee in year 1 and the annual fee
every year, both tiered by its share capital, and the fees on each planned convertible-bond or
preferred-share issue (one-off in the issue year, annual while it is outstanding), less the
schedule's waivers it qualifies for (several waivers of one fee apply one after another to what
is left). Its investors pay the schedule's per-trade components on the yearly turnover (free
float x share price x turnover rate), bought and sold in orders of `average_order`, buyers as
takers and sellers as makers. Provincial support measures (exchange/fees/support.py) are
negative offsets. Cash is integer, 1/10000 CNY; shares of money are parts per 10^8.
docs/costs.md works an example by hand.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeVar, get_args

from exchange import schema
from exchange.fees.schedule import (
    FeeSchedule,
    IssueInstrument,
    Qualification,
    charge,
    fee_presets,
    fill_fees,
    load_schedule,
    round_to_fen,
)
from exchange.fees.support import Measure, Support
from exchange.rules.boards import board_presets, load_board
from matching_engine.dtypes import Side

FIRM_DIR = Path(__file__).with_name("firms")
SUPPORT_DIR = Path(__file__).with_name("support")
ONE = 100_000_000  # 100% in parts per 10^8

Category = Literal["listing", "issue", "waiver", "trading", "support"]
CATEGORIES: tuple[Category, ...] = get_args(Category)  # the order of tables and charts
Item = tuple[Category, str, int, bool]  # category, item, amount (1/10000 CNY), assumed
T = TypeVar("T")


def _at_least(low: int, **values: int) -> None:
    for name, value in values.items():
        if value < low:
            raise ValueError(f"{name} {value} is below {low}; allowed: {low} or more")


def _share(name: str, value: int) -> None:
    if not 0 <= value <= ONE:
        raise ValueError(f"{name} {value} is not a share; allowed: 0..{ONE} (parts per 10^8)")


@dataclass(frozen=True)
class PlannedIssue:
    """A convertible-bond or preferred-share issue the firm plans.

    year: listed year of the issue (1 = first); size: money raised (1/10000 CNY); term_years:
    years outstanding (0: to the end of the study, a perpetual preferred share);
    in_province_share: parts per 10^8 of the money invested in the province.
    """

    instrument: IssueInstrument
    year: int
    size: int
    term_years: int = 0
    in_province_share: int = 0

    def __post_init__(self) -> None:
        _at_least(1, year=self.year, size=self.size)
        _at_least(0, term_years=self.term_years)
        _share("in_province_share", self.in_province_share)

    def outstanding(self, year: int) -> bool:
        """Return whether the issue is outstanding in a listed year."""
        return self.year <= year and (not self.term_years or year < self.year + self.term_years)


@dataclass(frozen=True)
class PledgeLoan:
    """An intellectual-property pledge loan of `amount` (1/10000 CNY) at a yearly `rate` (parts
    per 10^8), simple interest, in listed years year..year + years - 1."""

    amount: int
    rate: int
    year: int
    years: int

    def __post_init__(self) -> None:
        _at_least(1, amount=self.amount, year=self.year, years=self.years)
        _share("rate", self.rate)

    def interest(self, year: int) -> int:
        """Return the interest (1/10000 CNY, to the fen) due in a listed year."""
        due = self.year <= year < self.year + self.years
        return charge(self.amount, self.rate, "half_up") if due else 0


@dataclass(frozen=True)
class Firm:
    """A firm to list; `name` is the file's stem.

    share_capital, free_float: shares; share_price, average_order: 1/10000 CNY; turnover_rate:
    parts per 10^8 of the free float traded a year; qualifies: the qualifications it declares
    for waivers and support (e.g. "tech_firm"); exchange_listing_year: the listed year in which it
    completes a stock-exchange listing (the province's listing reward), absent: none planned.
    """

    name: str
    description: str
    share_capital: int
    free_float: int
    share_price: int
    turnover_rate: int
    average_order: int
    qualifies: tuple[Qualification, ...] = ()
    issues: tuple[PlannedIssue, ...] = ()
    ip_pledge_loans: tuple[PledgeLoan, ...] = ()
    exchange_listing_year: int | None = None

    def __post_init__(self) -> None:
        _at_least(
            1,
            share_capital=self.share_capital,
            free_float=self.free_float,
            share_price=self.share_price,
            average_order=self.average_order,
        )
        _at_least(0, turnover_rate=self.turnover_rate)
        if self.free_float > self.share_capital:
            raise ValueError(
                f"free_float {self.free_float} is more than share_capital {self.share_capital}; "
                f"allowed: 1..{self.share_capital}"
            )
        if self.exchange_listing_year is not None:
            _at_least(1, exchange_listing_year=self.exchange_listing_year)

    @property
    def yearly_turnover(self) -> int:
        """Return the value traded a year (1/10000 CNY, rounded down), each trade counted once."""
        return self.free_float * self.share_price * self.turnover_rate // ONE


@dataclass(frozen=True)
class CostLine:
    """One item of a board's costs in a listed year: 1/10000 CNY, waivers and offsets negative.

    assumption: the amount rests on an assumed number that the exchange must replace.
    """

    board: str
    year: int
    category: Category
    item: str
    amount: int
    assumption: bool

    @property
    def payer(self) -> Literal["firm", "investors"]:
        """Return who bears the line: investors pay the per-trade fees, the firm the rest."""
        return "investors" if self.category == "trading" else "firm"

    @property
    def label(self) -> str:
        """Return "category: item", the line's name in tables and charts."""
        return f"{self.category}: {self.item}"


def _load_named(cls: type[T], source: str | Path, directory: Path, kind: str) -> T:
    table = schema.load_chain(source, directory, kind)
    if "name" in table:
        raise schema.SchemaError(
            f"{table.locate('name')}: key 'name' is not allowed: a {kind} is named by its file"
        )
    return schema.build(cls, {**table, "name": Path(str(source)).stem}, origin=table)


def load_firm(source: str | Path) -> Firm:
    """Load a firm file (a path ending in .toml, or a shipped one by name, e.g. "example").

    Raise SchemaError naming the key, the value received and what is allowed.
    """
    return _load_named(Firm, source, FIRM_DIR, "firm")


def load_support(source: str | Path) -> Support:
    """Load support measures: a shipped preset by name ("jilin") or a TOML file."""
    return _load_named(Support, source, SUPPORT_DIR, "support measures")


def load_board_schedule(name: str) -> FeeSchedule:
    """Return the fee schedule of a name: a fee schedule (name or .toml path) or a board preset."""
    if name.endswith(".toml") or name in fee_presets():
        return load_schedule(name)
    if name in board_presets():
        return load_schedule(load_board(name).fee_schedule)
    raise schema.SchemaError(
        f"unknown board {name!r}; allowed: fee schedules {', '.join(fee_presets())}, "
        f"boards {', '.join(board_presets())}, or a fee schedule file ending in .toml"
    )


def _qualifies(firm: Firm, requires: Qualification | None) -> bool:
    return requires is None or requires in firm.qualifies


def _fee_items(schedule: FeeSchedule, firm: Firm, year: int) -> Iterator[Item]:
    """Yield the listing and issue fees due in a year, then the waivers that cut them."""
    listing = schedule.listing
    due = {
        name: fee.amount(firm.share_capital)
        for name, fee in listing.fees.items()
        if fee.kind == "annual" or year == 1
    }
    for name, fee in listing.fees.items():
        if name in due:
            yield "listing", name, due[name], fee.assumption
    for name, issue_fee in listing.issues.items():
        due[name] = sum(
            issue_fee.amount(issue.size, schedule.rounding)
            for issue in firm.issues
            if issue.instrument == issue_fee.instrument
            and (issue.outstanding(year) if issue_fee.kind == "annual" else issue.year == year)
        )
        yield "issue", name, due[name], issue_fee.assumption
    for name, waiver in listing.waivers.items():
        if (waiver.years and year > waiver.years) or not _qualifies(firm, waiver.requires):
            continue
        cut = round_to_fen(due.get(waiver.fee, 0) * waiver.share, schedule.rounding)
        due[waiver.fee] = due.get(waiver.fee, 0) - cut
        yield "waiver", name, -cut, waiver.assumption


def yearly_trading_fees(schedule: FeeSchedule, firm: Firm) -> dict[str, int]:
    """Return each per-trade component's yearly total (1/10000 CNY) over the investors' buys
    and sells of the yearly turnover, in orders of average_order and one remainder order."""
    orders, rest = divmod(firm.yearly_turnover, firm.average_order)
    totals = dict.fromkeys(schedule.components, 0)
    for side, liquidity in ((Side.BUY, "taker"), (Side.SELL, "maker")):
        for notional, count in ((firm.average_order, orders), (rest, 1)):
            for item in fill_fees(schedule, side, liquidity, "investor", notional):
                totals[item.name] += item.amount * count
    return totals


def _support_items(support: Support, firm: Firm, year: int) -> Iterator[Item]:
    """Yield the offsets (negative) of the measures the firm qualifies for in a year."""
    offsets: list[tuple[str, Measure, int]] = []
    if support.listing_reward and firm.exchange_listing_year == year:
        offsets.append(("listing_reward", support.listing_reward, support.listing_reward.amount))
    reward = support.bond_reward
    if reward:
        bonds = [i for i in firm.issues if i.instrument == "convertible_bond" and i.year == year]
        amount = sum(reward.amount(i.size, i.in_province_share) for i in bonds)
        offsets.append(("bond_reward", reward, amount))
    subsidy = support.ip_pledge_subsidy
    if subsidy:
        interest = sum(loan.interest(year) for loan in firm.ip_pledge_loans)
        offsets.append(("ip_pledge_subsidy", subsidy, subsidy.amount(interest)))
    for name, measure, amount in offsets:
        if _qualifies(firm, measure.requires):
            yield "support", name, -amount, measure.assumption


def costs(
    firm: Firm, boards: Mapping[str, FeeSchedule], years: int, support: Support | None = None
) -> list[CostLine]:
    """Return the cost lines of listed years 1..years on each board, board by board, year by
    year; lines of zero are left out."""
    _at_least(1, years=years)
    lines = []
    for board, schedule in boards.items():
        trading = yearly_trading_fees(schedule, firm)
        for year in range(1, years + 1):
            items: list[Item] = [
                *_fee_items(schedule, firm, year),
                *(
                    ("trading", name, amount, schedule.components[name].assumption)
                    for name, amount in trading.items()
                ),
                *(_support_items(support, firm, year) if support else ()),
            ]
            lines.extend(CostLine(board, year, *item) for item in items if item[2])
    return lines
