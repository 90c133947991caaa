"""Order placement: pricing, coupons, stock reservation and payment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal

from consumers.samples.app.inventory import Inventory
from consumers.samples.app.payments import Charge, PaymentsClient

CENT = Decimal("0.01")


class CheckoutError(Exception):
    """An order could not be placed; the cause names the step that failed."""


@dataclass(frozen=True)
class LineItem:
    sku: str
    quantity: int
    unit_price: Decimal


@dataclass
class Cart:
    cart_id: str
    region: str
    currency: str
    lines: list[LineItem] = field(default_factory=list)
    coupon: str | None = None
    packages: int = 1


@dataclass(frozen=True)
class Order:
    order_id: str
    total: Decimal
    payment_reference: str


class PriceBook:
    def __init__(
        self, tax_rates: Mapping[str, Decimal], coupons: Mapping[str, Decimal]
    ):
        self._tax_rates = dict(tax_rates)
        self._coupons = dict(coupons)

    def subtotal(self, cart: Cart) -> Decimal:
        return sum((line.unit_price * line.quantity for line in cart.lines), Decimal(0))

    def discount(self, cart: Cart, subtotal: Decimal) -> Decimal:
        if cart.coupon is None:
            return Decimal(0)
        percent = self._coupons[cart.coupon.upper()]
        return (subtotal * percent / 100).quantize(CENT, ROUND_HALF_EVEN)

    def tax(self, cart: Cart, amount: Decimal) -> Decimal:
        return (amount * self._tax_rates[cart.region]).quantize(CENT, ROUND_HALF_EVEN)

    def shipping_per_package(self, cart: Cart, shipping: Decimal) -> Decimal:
        return (shipping / cart.packages).quantize(CENT)


class CheckoutService:
    def __init__(
        self, prices: PriceBook, inventory: Inventory, payments: PaymentsClient
    ):
        self._prices = prices
        self._inventory = inventory
        self._payments = payments

    def place_order(self, cart: Cart, idempotency_key: str) -> Order:
        total = self._price(cart)
        self._reserve(cart)
        try:
            reference = self._payments.charge(
                Charge(cart.cart_id, total, cart.currency, idempotency_key)
            )
        except Exception:
            # Releasing twice raises KeyError, which Python chains to the
            # payment error as its implicit context.
            self._inventory.release(cart.cart_id, cart.region)
            raise
        return Order(f"order-{cart.cart_id}", total, reference)

    def _price(self, cart: Cart) -> Decimal:
        if not cart.lines:
            raise CheckoutError(f"cart {cart.cart_id} is empty")
        subtotal = self._prices.subtotal(cart)
        try:
            discounted = subtotal - self._prices.discount(cart, subtotal)
        except KeyError as error:
            raise CheckoutError(
                f"unknown coupon {cart.coupon!r} on cart {cart.cart_id}"
            ) from error
        shipping = (
            self._prices.shipping_per_package(cart, Decimal("4.99")) * cart.packages
        )
        return discounted + self._prices.tax(cart, discounted) + shipping

    def _reserve(self, cart: Cart) -> None:
        lines: dict[str, int] = {}
        for line in cart.lines:
            lines[line.sku] = lines.get(line.sku, 0) + line.quantity
        self._inventory.reserve(cart.cart_id, cart.region, lines)
