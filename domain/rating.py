"""Rating: quantities times unit prices → line items and totals per credit type, in Decimal.

Pure: the database aggregates the events into quantities; this turns them into the
buckets of `Customer.costs` and the lines of `previewInvoice`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from decimal import Context, Decimal, Inexact, InvalidOperation, localcontext

ZERO = Decimal(0)
# Exact products and sums: Python's default context keeps 28 digits and rounds silently
# (a 30-digit quantity times 0.000001 lost its last digits). Quantities have at most about
# 11,000 digits (models/sqlite_functions.py) and prices 38, so this never rounds; if it ever
# had to, Inexact raises rather than answer a wrong amount.
EXACT = Context(prec=100_000, traps=[InvalidOperation, Inexact])


@dataclass(frozen=True, slots=True)
class ChargeTerms:
    """One plan charge as rated: its metric, price, credit type and the metric's group key."""

    charge_id: int
    metric_id: int
    metric_name: str
    unit_price: Decimal
    credit_type: str
    group_key: str | None
    order: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Line:
    terms: ChargeTerms
    quantity: Decimal
    group_value: str | None

    @property
    def cost(self) -> Decimal:
        with localcontext(EXACT):
            return self.quantity * self.terms.unit_price


@dataclass(slots=True)
class CreditTypeLines:
    credit_type: str
    lines: list[Line] = field(default_factory=list)

    @property
    def total(self) -> Decimal:
        with localcontext(EXACT):
            return sum((line.cost for line in self.lines), ZERO)


Quantities = dict[tuple[int, Hashable, str | None], Decimal]


def rate(
    period: Hashable, charges: Iterable[ChargeTerms], quantities: Quantities
) -> list[CreditTypeLines]:
    """Lines for one period: per charge, one line per group value seen (or one zero line)."""
    by_metric: dict[int, list[tuple[str | None, Decimal]]] = defaultdict(list)
    for (metric_id, at, group_value), quantity in quantities.items():
        if at == period:
            by_metric[metric_id].append((group_value, quantity))
    credit_types: dict[str, CreditTypeLines] = {}
    for terms in sorted(set(charges), key=lambda t: t.order):
        seen = sorted(by_metric.get(terms.metric_id, []), key=lambda item: item[0] or "")
        lines = credit_types.setdefault(terms.credit_type, CreditTypeLines(terms.credit_type))
        if not seen:
            lines.lines.append(Line(terms, ZERO, None))
        for group_value, quantity in seen:
            lines.lines.append(Line(terms, quantity, group_value))
    return [credit_types[name] for name in sorted(credit_types)]
