"""Stock reservations per warehouse, kept in memory."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


class OutOfStockError(Exception):
    """A reservation asked for more units than a warehouse has."""

    def __init__(self, sku: str, warehouse: str, requested: int, available: int):
        super().__init__(
            f"Not enough stock for {sku} in {warehouse}: "
            f"requested {requested}, available {available}"
        )
        self.sku = sku
        self.warehouse = warehouse


class ReservationConflictError(RuntimeError):
    """A reservation id was reused for a different order."""


@dataclass
class Warehouse:
    name: str
    stock: dict[str, int]
    reservations: dict[str, dict[str, int]] = field(default_factory=dict)

    def reserve(self, reservation_id: str, lines: Mapping[str, int]) -> None:
        if reservation_id in self.reservations:
            raise ReservationConflictError(
                f"reservation {reservation_id} already exists in {self.name}"
            )
        for sku, quantity in lines.items():
            available = self.stock.get(sku, 0)
            if quantity > available:
                raise OutOfStockError(sku, self.name, quantity, available)
        for sku, quantity in lines.items():
            self.stock[sku] -= quantity
        self.reservations[reservation_id] = dict(lines)

    def release(self, reservation_id: str) -> None:
        lines = self.reservations.pop(reservation_id)
        for sku, quantity in lines.items():
            self.stock[sku] += quantity


class Inventory:
    def __init__(self, warehouses: Mapping[str, Warehouse]):
        self._warehouses = dict(warehouses)

    def warehouse_for(self, region: str) -> Warehouse:
        return self._warehouses[region]

    def reserve(
        self, reservation_id: str, region: str, lines: Mapping[str, int]
    ) -> None:
        self.warehouse_for(region).reserve(reservation_id, lines)

    def release(self, reservation_id: str, region: str) -> None:
        self.warehouse_for(region).release(reservation_id)
