"""Cash, positions, reservations, holding lots and holder registries of a board's participants.

Cash and fees are integers in 1/10000 CNY, positions in shares (bonds), days are trading-day
numbers (calendar.TradingCalendar.day_number). An order reserves at entry what it may need
(a buy: cash for notional plus fees; a sell: the shares, and cash for fees beyond its proceeds),
so a fill never fails for want of cash or shares and nothing is sold short; the reservation's
remainder is released on cancel or expiry (`release`) and when it is filled in full.

Rule failures return a reason code (exchange.reasons) and leave the state unchanged; 0 means
done. Misuse that no order can cause (an unknown class, a participant opened twice) raises.

Holding rules (boards.Holding) per security class: T+n from each lot's acquisition day; the
regional round-trip rule from the participant's last buy and last sale of the security, where a
live buy (sell) reservation counts as a buy (sale) today. Holder cap (boards.HolderCap): a buy
reservation or issue that could make a participant the (limit+1)-th holder is refused; live buy
reservations count their buyers as holders, so fills never exceed the cap. Issuers never count.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from exchange.fees.schedule import FeeItem, total
from exchange.reasons import VenueReason
from exchange.rules.boards import Board, ClassRules, HolderCap, ParticipantKind
from exchange.rules.order_entry import check_eligibility
from matching_engine.dtypes import Side

MAX_CLIENT_ORDER_ID = 32


@dataclass(frozen=True)
class Participant:
    """A participant: id, kind, declared financial assets (1/10000 CNY), months of experience."""

    id: int
    kind: ParticipantKind
    financial_assets: int = 0
    experience_months: int = 0


@dataclass
class Reservation:
    """What an open order holds: cash and shares (1/10000 CNY, shares) and its open quantity."""

    participant: int
    security: int
    side: Side
    quantity: int
    cash: int
    shares: int


@dataclass
class HolderRegistry:
    """Holders of one security: now, ever, and non-holders with live buy reservations."""

    cap: HolderCap
    current: set[int] = field(default_factory=set)
    ever: set[int] = field(default_factory=set)
    pending: dict[int, int] = field(default_factory=dict)

    def counted(self) -> set[int]:
        """Return the holders that count toward the cap (ever or current, per cap.count)."""
        return self.ever if self.cap.count == "cumulative" else self.current

    def admits(self, participant: int) -> bool:
        """Return whether the participant may become (or stay) a holder under the cap."""
        counted = self.counted()
        if self.cap.limit is None or participant in counted or participant in self.pending:
            return True
        extra = sum(1 for p in self.pending if p not in counted)
        return len(counted) + extra < self.cap.limit

    def count(self) -> int:
        """Return the number of holders counted toward the cap."""
        return len(self.counted())


class Accounts:
    """All participants' accounts on one board (see the module docstring for the rules)."""

    def __init__(self, board: Board) -> None:
        """Start empty on a board; its classes, holder cap and investor gate apply."""
        self.board = board
        self.participants: dict[int, Participant] = {}
        self.securities: dict[int, ClassRules] = {}
        self.cash: dict[int, int] = {}
        self.cash_reserved: dict[int, int] = {}
        self.positions: dict[tuple[int, int], int] = {}
        self.shares_reserved: dict[tuple[int, int], int] = {}
        self.lots: dict[tuple[int, int], deque[list[int]]] = {}  # [day, quantity], oldest first
        self.last_buy: dict[tuple[int, int], int] = {}
        self.last_sale: dict[tuple[int, int], int] = {}
        self.live_orders: dict[tuple[int, int, Side], int] = {}
        self.holders: dict[int, HolderRegistry] = {}
        self.reservations: dict[int, Reservation] = {}
        self.fees_collected: dict[str, int] = {}
        self.client_order_ids: dict[int, set[str]] = {}
        self._internal_id = 0

    # set-up -------------------------------------------------------------------------------

    def open_account(self, participant: Participant, cash: int = 0) -> None:
        """Open a participant's account with some cash (1/10000 CNY)."""
        if participant.id in self.participants:
            raise ValueError(f"participant {participant.id} already has an account")
        if cash < 0:
            raise ValueError(f"opening cash {cash} must not be negative")
        self.participants[participant.id] = participant
        self.cash[participant.id] = cash
        self.cash_reserved[participant.id] = 0
        self.client_order_ids[participant.id] = set()

    def list_security(self, security: int, instrument_class: str) -> None:
        """List a security of an instrument class the board trades."""
        if security in self.securities:
            raise ValueError(f"security {security} is already listed")
        self.securities[security] = self.board.rules(instrument_class)
        self.holders[security] = HolderRegistry(self.board.holder_cap)

    # queries ------------------------------------------------------------------------------

    def free_cash(self, participant: int) -> int:
        """Return cash not held by reservations (1/10000 CNY)."""
        return self.cash[participant] - self.cash_reserved[participant]

    def position(self, participant: int, security: int) -> int:
        """Return the shares held, reserved ones included."""
        return self.positions.get((participant, security), 0)

    def free_shares(self, participant: int, security: int) -> int:
        """Return the shares not held by sell reservations."""
        key = (participant, security)
        return self.positions.get(key, 0) - self.shares_reserved.get(key, 0)

    def sellable(self, participant: int, security: int, day: int) -> int:
        """Return the free shares past the holding period (T+n) on a trading day."""
        key = (participant, security)
        rules = self.securities[security]
        if self.participants[participant].kind in rules.holding.exempt:
            return self.free_shares(participant, security)
        ripe = sum(q for d, q in self.lots.get(key, ()) if d + rules.holding.min_days <= day)
        return ripe - self.shares_reserved.get(key, 0)

    def holder_count(self, security: int) -> int:
        """Return the number of holders counted toward the security's holder cap."""
        return self.holders[security].count()

    def state(self) -> dict[str, object]:
        """Return a comparable copy of the whole state (tests and journal replay compare these)."""
        return {
            "cash": dict(self.cash),
            "cash_reserved": dict(self.cash_reserved),
            "positions": {k: v for k, v in self.positions.items() if v},
            "shares_reserved": {k: v for k, v in self.shares_reserved.items() if v},
            "lots": {k: [tuple(lot) for lot in v] for k, v in self.lots.items() if v},
            "last_buy": dict(self.last_buy),
            "last_sale": dict(self.last_sale),
            "live_orders": {k: v for k, v in self.live_orders.items() if v},
            "holders": {
                s: (sorted(h.current), sorted(h.ever), dict(h.pending))
                for s, h in self.holders.items()
            },
            "reservations": {k: vars(r).copy() for k, r in self.reservations.items()},
            "fees_collected": dict(self.fees_collected),
            "client_order_ids": {k: sorted(v) for k, v in self.client_order_ids.items()},
        }

    # cash and issuance ----------------------------------------------------------------------

    def deposit(self, participant: int, amount: int) -> int:
        """Add cash (1/10000 CNY) to an account."""
        if participant not in self.participants:
            return VenueReason.UNKNOWN_PARTICIPANT
        if amount <= 0:
            return VenueReason.INVALID_AMOUNT
        self.cash[participant] += amount
        return 0

    def withdraw(self, participant: int, amount: int) -> int:
        """Take free cash (1/10000 CNY) out of an account."""
        if participant not in self.participants:
            return VenueReason.UNKNOWN_PARTICIPANT
        if amount <= 0:
            return VenueReason.INVALID_AMOUNT
        if amount > self.free_cash(participant):
            return VenueReason.INSUFFICIENT_CASH
        self.cash[participant] -= amount
        return 0

    def issue(self, security: int, participant: int, quantity: int, day: int) -> int:
        """Credit newly issued shares to a participant, acquired on trading day `day`."""
        reason = self._known(participant, security) or (
            VenueReason.INVALID_AMOUNT if quantity <= 0 else 0
        )
        if not reason and not self._admits(security, participant):
            reason = VenueReason.HOLDER_CAP_REACHED
        if not reason:
            self._credit(participant, security, quantity, day)
        return reason

    def claim_client_order_id(self, participant: int, client_order_id: str) -> int:
        """Record a client order id; refuse one the participant used before or a malformed one."""
        if participant not in self.participants:
            return VenueReason.UNKNOWN_PARTICIPANT
        if not 1 <= len(client_order_id) <= MAX_CLIENT_ORDER_ID:
            return VenueReason.INVALID_CLIENT_ORDER_ID
        used = self.client_order_ids[participant]
        if client_order_id in used:
            return VenueReason.DUPLICATE_CLIENT_ORDER_ID
        used.add(client_order_id)
        return 0

    # reservations -------------------------------------------------------------------------

    def reserve_buy(
        self, reservation: int, participant: int, security: int, quantity: int, cash: int, day: int
    ) -> int:
        """Reserve cash (notional plus fees, 1/10000 CNY) for a buy of `quantity` on day `day`."""
        reason = self._check_new(reservation, participant, security, quantity, cash)
        if reason:
            return reason
        who = self.participants[participant]
        gate = self.board.eligibility
        reason = check_eligibility(gate, who.kind, who.financial_assets, who.experience_months)
        if reason:
            return reason
        if self._within_round_trip(participant, security, Side.BUY, day):
            return VenueReason.BUY_WITHIN_ROUND_TRIP_DAYS
        if not self._admits(security, participant):
            return VenueReason.HOLDER_CAP_REACHED
        if cash > self.free_cash(participant):
            return VenueReason.INSUFFICIENT_CASH
        if who.kind != "issuer":
            pending = self.holders[security].pending
            pending[participant] = pending.get(participant, 0) + 1
        self._open(reservation, Reservation(participant, security, Side.BUY, quantity, cash, 0))
        return 0

    def reserve_sell(
        self,
        reservation: int,
        participant: int,
        security: int,
        quantity: int,
        day: int,
        cash: int = 0,
    ) -> int:
        """Reserve `quantity` shares for a sale on day `day`, and cash for fees beyond proceeds."""
        reason = self._check_new(reservation, participant, security, quantity, cash)
        if reason:
            return reason
        if self._within_round_trip(participant, security, Side.SELL, day):
            return VenueReason.SALE_WITHIN_ROUND_TRIP_DAYS
        if quantity > self.free_shares(participant, security):
            return VenueReason.INSUFFICIENT_SHARES
        if quantity > self.sellable(participant, security, day):
            return VenueReason.HOLDING_PERIOD_NOT_REACHED
        if cash > self.free_cash(participant):
            return VenueReason.INSUFFICIENT_CASH
        key = (participant, security)
        self.shares_reserved[key] = self.shares_reserved.get(key, 0) + quantity
        self._open(
            reservation, Reservation(participant, security, Side.SELL, quantity, cash, quantity)
        )
        return 0

    def release(self, reservation: int) -> int:
        """Close a reservation (cancel, expiry) and free what it still holds."""
        held = self.reservations.pop(reservation, None)
        if held is None:
            return VenueReason.UNKNOWN_RESERVATION
        key = (held.participant, held.security)
        self.cash_reserved[held.participant] -= held.cash
        self.shares_reserved[key] = self.shares_reserved.get(key, 0) - held.shares
        self.live_orders[(*key, held.side)] -= 1
        pending = self.holders[held.security].pending
        if held.side == Side.BUY and held.participant in pending:
            pending[held.participant] -= 1
            if not pending[held.participant]:
                del pending[held.participant]
        return 0

    def settle(
        self,
        buy: int,
        sell: int,
        quantity: int,
        price: int,
        day: int,
        buyer_fees: tuple[FeeItem, ...] = (),
        seller_fees: tuple[FeeItem, ...] = (),
    ) -> int:
        """Settle a fill between two reservations: delivery versus payment, fees collected.

        The buyer pays price x quantity plus its fees from its reservation; the seller delivers
        the shares (oldest lots first) and receives the notional less its fees. A reservation
        filled in full is released.
        """
        held_buy, held_sell = self.reservations.get(buy), self.reservations.get(sell)
        if held_buy is None or held_sell is None:
            return VenueReason.UNKNOWN_RESERVATION
        if (held_buy.side, held_sell.side) != (Side.BUY, Side.SELL) or (
            held_buy.security != held_sell.security
        ):
            return VenueReason.WRONG_SECURITY
        if quantity <= 0 or price <= 0:
            return VenueReason.INVALID_AMOUNT
        notional = price * quantity
        paid, received = notional + total(buyer_fees), notional - total(seller_fees)
        if (
            quantity > min(held_buy.quantity, held_sell.quantity)
            or paid > held_buy.cash
            or -received > held_sell.cash
        ):
            return VenueReason.FILL_EXCEEDS_RESERVATION
        buyer, seller, security = held_buy.participant, held_sell.participant, held_buy.security
        self._pay(held_buy, -paid)
        self._pay(held_sell, received)
        self._deliver(held_sell, quantity)
        self._credit(buyer, security, quantity, day)
        self.last_buy[(buyer, security)] = day
        self.last_sale[(seller, security)] = day
        for item in (*buyer_fees, *seller_fees):
            self.fees_collected[item.payee] = self.fees_collected.get(item.payee, 0) + item.amount
        for reservation, held in ((buy, held_buy), (sell, held_sell)):
            held.quantity -= quantity
            if not held.quantity:
                self.release(reservation)
        return 0

    def trade(
        self,
        buyer: int,
        seller: int,
        security: int,
        quantity: int,
        price: int,
        day: int,
        buyer_fees: tuple[FeeItem, ...] = (),
        seller_fees: tuple[FeeItem, ...] = (),
    ) -> int:
        """Transfer shares for cash at once (a negotiated trade): reserve both sides, settle.

        Every check of reserve_buy, reserve_sell and settle applies; on a refusal nothing changes.
        """
        notional = price * quantity
        buy_id, sell_id = self._next_internal(), self._next_internal()
        reason = (
            self.reserve_sell(
                sell_id, seller, security, quantity, day, max(0, total(seller_fees) - notional)
            )
            or self.reserve_buy(
                buy_id, buyer, security, quantity, max(0, notional + total(buyer_fees)), day
            )
            or self.settle(buy_id, sell_id, quantity, price, day, buyer_fees, seller_fees)
        )
        for leftover in (buy_id, sell_id):
            if leftover in self.reservations:
                self.release(leftover)
        return reason

    # internals ----------------------------------------------------------------------------

    def _known(self, participant: int, security: int) -> int:
        if participant not in self.participants:
            return VenueReason.UNKNOWN_PARTICIPANT
        if security not in self.securities:
            return VenueReason.UNKNOWN_INSTRUMENT
        return 0

    def _check_new(
        self, reservation: int, participant: int, security: int, quantity: int, cash: int
    ) -> int:
        if reservation in self.reservations:
            return VenueReason.DUPLICATE_RESERVATION
        if quantity <= 0 or cash < 0:
            return VenueReason.INVALID_AMOUNT
        return self._known(participant, security)

    def _within_round_trip(self, participant: int, security: int, side: Side, day: int) -> bool:
        holding = self.securities[security].holding
        if not holding.round_trip_days or self.participants[participant].kind in holding.exempt:
            return False
        opposite = Side.SELL if side == Side.BUY else Side.BUY
        if self.live_orders.get((participant, security, opposite), 0):
            return True
        last = (self.last_sale if side == Side.BUY else self.last_buy).get((participant, security))
        return last is not None and day - last < holding.round_trip_days

    def _admits(self, security: int, participant: int) -> bool:
        if self.participants[participant].kind == "issuer":
            return True
        return self.holders[security].admits(participant)

    def _open(self, reservation: int, held: Reservation) -> None:
        self.reservations[reservation] = held
        self.cash_reserved[held.participant] += held.cash
        key = (held.participant, held.security, held.side)
        self.live_orders[key] = self.live_orders.get(key, 0) + 1

    def _pay(self, held: Reservation, amount: int) -> None:
        """Add `amount` to the participant's cash, taking a shortfall from the reservation."""
        used = min(held.cash, max(0, -amount))
        held.cash -= used
        self.cash_reserved[held.participant] -= used
        self.cash[held.participant] += amount

    def _deliver(self, held: Reservation, quantity: int) -> None:
        key = (held.participant, held.security)
        held.shares -= quantity
        self.shares_reserved[key] -= quantity
        self.positions[key] -= quantity
        lots, left = self.lots[key], quantity
        while left:
            take = min(left, lots[0][1])
            lots[0][1] -= take
            left -= take
            if not lots[0][1]:
                lots.popleft()
        if not self.positions[key]:
            self.holders[held.security].current.discard(held.participant)

    def _credit(self, participant: int, security: int, quantity: int, day: int) -> None:
        key = (participant, security)
        self.positions[key] = self.positions.get(key, 0) + quantity
        lots = self.lots.setdefault(key, deque())
        if lots and lots[-1][0] == day:
            lots[-1][1] += quantity
        else:
            lots.append([day, quantity])
        if self.participants[participant].kind != "issuer":
            registry = self.holders[security]
            registry.current.add(participant)
            registry.ever.add(participant)

    def _next_internal(self) -> int:
        self._internal_id -= 1
        return self._internal_id
