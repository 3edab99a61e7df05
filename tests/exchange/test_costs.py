"""Listing and trading costs: the example firm by hand, offsets' conditions, bad firm files."""

from __future__ import annotations

import pytest

from exchange.fees.listing_costs import (
    costs,
    load_board_schedule,
    load_firm,
    load_support,
    yearly_trading_fees,
)
from exchange.fees.schedule import fee_presets, load_schedule
from exchange.schema import SchemaError

CNY = 10_000
FIRM = load_firm("example")
JILIN = load_support("jilin")
BOARDS = {name: load_board_schedule(name) for name in ("standard", "techboard")}


def table(firm=FIRM, boards=BOARDS, years=5, support=JILIN) -> dict[tuple[str, int, str], int]:
    """Return {(board, year, label): amount in CNY} of a costs run."""
    return {
        (line.board, line.year, line.label): line.amount // CNY
        for line in costs(firm, boards, years, support)
    }


def firm_file(tmp_path, text: str):
    path = tmp_path / "firm.toml"
    path.write_text('extends = "example"\n' + text)
    return load_firm(path)


def test_example_firm_by_hand():
    # Turnover: 15,000,000 free shares x CNY 8.00 x 50% = CNY 60,000,000 a year, 600 orders of
    # CNY 100,000 bought and 600 sold.
    # standard, per order: commission 0.025% = 25.00 (above the CNY 5 minimum), handling
    # 0.00341% = 3.41, CSRC 0.002% = 2.00, transfer 0.001% = 1.00, both sides; stamp duty 0.05% =
    # 50.00 on sells only. A year: commission 1,200 x 25 = 30,000; handling 1,200 x 3.41 = 4,092;
    # CSRC 2,400; transfer 1,200; stamp duty 600 x 50 = 30,000: investors pay 67,692.
    # techboard: commission 0.02% = 20.00 -> 24,000; handling 0.001% -> 1,200; no CSRC fee;
    # transfer 1,200; stamp duty 30,000: 56,400.
    # Listing, 60,000,000 shares (the 50m-100m tier): standard 80,000 once + 40,000 a year;
    # techboard 40,000 + 20,000 a year, the annual fee waived for a tech firm in years 1 and 2.
    # Convertible, year 2, CNY 50,000,000 for 6 years: standard 0.01% = 5,000 (minimum 5,000)
    # then 0.004% = 2,000 a year; techboard 0.005% = 2,500 then 0.002% = 1,000 a year.
    # Preferred, year 4, CNY 20,000,000, perpetual: standard 0.01% = 2,000 -> minimum 5,000, then
    # 0.004% = 800 -> minimum 2,000 a year; techboard 1,000 -> 2,500, then 400 -> 1,000 a year.
    # Support (both boards): bond reward 1% x 50,000,000 = 500,000 in year 2 (60% in province,
    # a tech firm); IP loan CNY 5,000,000 at 4% = 200,000 interest, half subsidised: 100,000 in
    # years 1-3.
    trading = {
        "standard": {
            "stamp_duty": 30_000,
            "handling_fee": 4_092,
            "csrc_fee": 2_400,
            "transfer_fee": 1_200,
            "broker_commission": 30_000,
        },
        "techboard": {
            "stamp_duty": 30_000,
            "handling_fee": 1_200,
            "transfer_fee": 1_200,
            "broker_commission": 24_000,
        },
    }
    fees = {
        "standard": {
            1: {"listing: initial": 80_000, "listing: annual": 40_000},
            2: {
                "listing: annual": 40_000,
                "issue: convertible_initial": 5_000,
                "issue: convertible_annual": 2_000,
            },
            3: {"listing: annual": 40_000, "issue: convertible_annual": 2_000},
            4: {
                "listing: annual": 40_000,
                "issue: convertible_annual": 2_000,
                "issue: preferred_initial": 5_000,
                "issue: preferred_annual": 2_000,
            },
            5: {
                "listing: annual": 40_000,
                "issue: convertible_annual": 2_000,
                "issue: preferred_annual": 2_000,
            },
        },
        "techboard": {
            1: {
                "listing: initial": 40_000,
                "listing: annual": 20_000,
                "waiver: tech_firm_first_years": -20_000,
            },
            2: {
                "listing: annual": 20_000,
                "waiver: tech_firm_first_years": -20_000,
                "issue: convertible_initial": 2_500,
                "issue: convertible_annual": 1_000,
            },
            3: {"listing: annual": 20_000, "issue: convertible_annual": 1_000},
            4: {
                "listing: annual": 20_000,
                "issue: convertible_annual": 1_000,
                "issue: preferred_initial": 2_500,
                "issue: preferred_annual": 1_000,
            },
            5: {
                "listing: annual": 20_000,
                "issue: convertible_annual": 1_000,
                "issue: preferred_annual": 1_000,
            },
        },
    }
    support = {
        1: {"support: ip_pledge_subsidy": -100_000},
        2: {"support: ip_pledge_subsidy": -100_000, "support: bond_reward": -500_000},
        3: {"support: ip_pledge_subsidy": -100_000},
        4: {},
        5: {},
    }
    expected = {
        (board, year, label): amount
        for board in BOARDS
        for year in range(1, 6)
        for label, amount in [
            *fees[board][year].items(),
            *((f"trading: {n}", a) for n, a in trading[board].items()),
            *support[year].items(),
        ]
    }
    assert table() == expected
    # five-year net cost: standard 302,000 fees + 338,460 trading - 800,000 support = -159,540;
    # techboard 111,000 + 282,000 - 800,000 = -407,000
    assert sum(a for (b, _, _), a in expected.items() if b == "standard") == -159_540
    assert sum(a for (b, _, _), a in expected.items() if b == "techboard") == -407_000


def test_the_bond_reward_needs_half_the_money_in_the_province(tmp_path):
    def reward(share: int, size: int = 500_000_000_000) -> int:
        firm = firm_file(
            tmp_path,
            f"[[issues]]\ninstrument = 'convertible_bond'\nyear = 1\nsize = {size}\n"
            f"in_province_share = {share}\n",
        )
        return -table(firm, years=1).get(("standard", 1, "support: bond_reward"), 0)

    assert reward(49_999_999) == 0
    assert reward(50_000_000) == 500_000  # exactly 50% qualifies: 1% of CNY 50,000,000
    assert reward(100_000_000, size=50_000_000_000) == 100_000  # 1% = 50,000 -> minimum
    assert reward(100_000_000, size=2_000_000_000_000) == 1_000_000  # 1% = 2m -> maximum


def test_preferred_shares_are_not_debt_and_earn_no_bond_reward(tmp_path):
    firm = firm_file(
        tmp_path,
        "[[issues]]\ninstrument = 'preferred_share'\nyear = 1\nsize = 500_000_000_000\n"
        "in_province_share = 100_000_000\n",
    )
    assert ("standard", 1, "support: bond_reward") not in table(firm, years=1)


def test_offsets_need_the_qualification_and_the_year(tmp_path):
    plain = firm_file(tmp_path, "qualifies = []\n")
    lines = table(plain)
    assert not any(label.startswith("waiver") for _, _, label in lines)
    assert ("standard", 2, "support: bond_reward") not in lines  # not a tech firm
    assert lines[("standard", 1, "support: ip_pledge_subsidy")] == -100_000  # no condition
    listed = table(firm_file(tmp_path, "exchange_listing_year = 4\n"))
    assert listed[("techboard", 4, "support: listing_reward")] == -10_000_000
    assert [k for k in listed if k[2] == "support: listing_reward"] == [
        ("standard", 4, "support: listing_reward"),
        ("techboard", 4, "support: listing_reward"),
    ]
    assert not any(label.startswith("support") for _, _, label in table(support=None))


def test_ip_pledge_subsidy_is_capped_a_year(tmp_path):
    # CNY 30,000,000 at 5% = 1,500,000 interest; half is 750,000, capped at 500,000
    firm = firm_file(
        tmp_path,
        "[[ip_pledge_loans]]\namount = 300_000_000_000\nrate = 5_000_000\nyear = 1\nyears = 1\n",
    )
    assert table(firm, years=1)[("standard", 1, "support: ip_pledge_subsidy")] == -500_000


def test_a_50_percent_fee_cut_is_one_override(tmp_path):
    cut = tmp_path / "cut.toml"
    cut.write_text('extends = "techboard"\n[components.broker_commission]\nrate = 10_000\n')
    before = yearly_trading_fees(BOARDS["techboard"], FIRM)
    after = yearly_trading_fees(load_board_schedule(str(cut)), FIRM)
    assert after == {**before, "broker_commission": before["broker_commission"] // 2}


def test_the_minimum_commission_and_the_remainder_order(tmp_path):
    # CNY 60,000,000 in orders of CNY 7,000: 8,571 orders and one of CNY 3,000 a side; 0.025%
    # of 7,000 = 1.75 and of 3,000 = 0.75, both lifted to the CNY 5 minimum: 2 x 8,572 x 5.
    firm = firm_file(tmp_path, "average_order = 70_000_000\n")
    assert yearly_trading_fees(BOARDS["standard"], firm)["broker_commission"] == 85_720 * CNY


def test_boards_by_fee_schedule_or_board_preset():
    assert load_board_schedule("regional") == load_schedule("standard")
    assert load_board_schedule("techboard-mm") == load_schedule("techboard")
    with pytest.raises(SchemaError, match="unknown board 'nasdaq'; allowed: fee schedules"):
        load_board_schedule("nasdaq")


@pytest.mark.parametrize("name", fee_presets())
def test_every_shipped_listing_amount_has_a_source_or_is_an_assumption(name):
    listing = load_schedule(name).listing
    for entry in [*listing.fees.values(), *listing.issues.values(), *listing.waivers.values()]:
        assert entry.assumption or entry.source.startswith("S"), entry


def test_every_assumed_support_measure_says_it_must_be_replaced():
    assert JILIN.listing_reward.amount == 10_000_000 * CNY
    assert (JILIN.bond_reward.minimum, JILIN.bond_reward.maximum) == (
        100_000 * CNY,
        1_000_000 * CNY,
    )
    for measure in JILIN.measures():
        assert measure.source.startswith("DOMAIN.md 8")
        assert not measure.assumption or "replace" in measure.note


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("free_float = 70_000_000", "free_float 70000000 is more than share_capital 60000000; "
         "allowed: 1..60000000"),
        ("share_price = '8.00'", "share_price: got '8.00' \\(str\\); expected an integer"),
        ("turnover = 5", "unknown key 'turnover' in the top level; allowed keys: name, "),
        ("qualifies = ['unicorn']", "qualifies\\[0\\]: got 'unicorn'; allowed: 'tech_firm', "
         "'autonomous_region'"),
        ("[[issues]]\ninstrument = 'warrant'\nyear = 1\nsize = 1",
         "issues\\[0\\].instrument: got 'warrant'; allowed: 'convertible_bond', 'preferred_share'"),
        ("[[issues]]\ninstrument = 'convertible_bond'\nyear = 0\nsize = 1",
         "year 0 is below 1; allowed: 1 or more"),
        ("[[issues]]\ninstrument = 'convertible_bond'\nyear = 1\nsize = 1\n"
         "in_province_share = 150_000_000",
         "in_province_share 150000000 is not a share; allowed: 0..100000000"),
        ("name = 'x'", "key 'name' is not allowed: a firm is named by its file"),
    ],
)  # fmt: skip
def test_bad_firm_files_name_the_key_the_value_and_what_is_allowed(tmp_path, text, message):
    with pytest.raises(SchemaError, match=message):
        firm_file(tmp_path, text)
