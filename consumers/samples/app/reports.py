"""A nightly import of CSV sales rows into a revenue report."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal


class RowError(ValueError):
    def __init__(self, line: int, reason: str):
        super().__init__(f"line {line}: {reason}")
        self.line = line


@dataclass(frozen=True)
class Sale:
    day: date
    region: str
    amount: Decimal
    manager: str | None


def parse_day(text: str) -> date:
    return datetime.strptime(text, "%Y-%m-%d").date()


def parse_row(line: int, row: list[str]) -> Sale:
    day_text, region, amount_text, manager = row[0], row[1], row[2], row[3]
    if not region:
        raise RowError(line, "missing region")
    return Sale(parse_day(day_text), region, Decimal(amount_text), manager or None)


def read_sales(text: str, *, strict: bool) -> list[Sale]:
    """Parse every row; in strict mode, raise all row errors together."""
    sales: list[Sale] = []
    errors: list[Exception] = []
    for line, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        try:
            sales.append(parse_row(line, row))
        except RowError as error:
            errors.append(error)
    if strict and errors:
        raise ExceptionGroup(f"{len(errors)} invalid rows in sales import", errors)
    return sales


def revenue_by_manager(sales: Iterable[Sale]) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = {}
    for sale in sales:
        manager = sale.manager.strip().lower()  # type: ignore[union-attr]
        totals[manager] = totals.get(manager, Decimal(0)) + sale.amount
    return totals


def share_of_region(sales: list[Sale], region: str) -> Decimal:
    regional = [sale.amount for sale in sales if sale.region == region]
    return sum(regional, Decimal(0)) / sum((s.amount for s in sales), Decimal(0))


def build_report(text: str, *, strict: bool = False) -> dict[str, object]:
    sales = read_sales(text, strict=strict)
    return {
        "first_day": sales[0].day,
        "by_manager": revenue_by_manager(sales),
        "emea_share": share_of_region(sales, "emea"),
    }
