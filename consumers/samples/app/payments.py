"""A payments client with one adapter per provider and a retry loop.

The "gateway" is an in-process table of scripted responses, so a charge
fails the way a real provider fails without any network traffic.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal

_IDEMPOTENCY_KEY = re.compile(r"^[a-z0-9]{8}-[a-z0-9]{4}$")


class PaymentError(Exception):
    """Base class of every error the payments client raises."""


class CardDeclinedError(PaymentError):
    def __init__(self, provider: str, code: str, charge_id: str):
        super().__init__(f"{provider} declined charge {charge_id}: {code}")
        self.code = code


class GatewayTimeoutError(TimeoutError):
    """The provider did not respond within the client's deadline."""


class PaymentFailedError(PaymentError):
    """Every attempt of a charge failed; the last error is the cause."""


@dataclass(frozen=True)
class Charge:
    charge_id: str
    amount: Decimal
    currency: str
    idempotency_key: str


@dataclass(frozen=True)
class GatewayResponse:
    status: int
    body: dict[str, str]


Gateway = Callable[[str, dict[str, str]], GatewayResponse]


def scripted_gateway(responses: list[GatewayResponse | Exception]) -> Gateway:
    """Build a gateway that returns (or raises) the scripted items in order."""
    pending: Iterator[GatewayResponse | Exception] = iter(responses)

    def send(path: str, form: dict[str, str]) -> GatewayResponse:
        item = next(pending)
        if isinstance(item, Exception):
            raise item
        return item

    return send


class StripeAdapter:
    name = "stripe"

    def __init__(self, gateway: Gateway):
        self._gateway = gateway

    def create_charge(self, charge: Charge) -> str:
        form = {
            "amount": str(int(charge.amount * 100)),
            "currency": charge.currency.lower(),
        }
        response = self._gateway("/v1/charges", form)
        return self._parse(response, charge)

    def _parse(self, response: GatewayResponse, charge: Charge) -> str:
        if response.status == 402:
            raise CardDeclinedError(
                self.name, response.body["decline_code"], charge.charge_id
            )
        return response.body["id"]


class AdyenAdapter:
    name = "adyen"

    def __init__(self, gateway: Gateway):
        self._gateway = gateway

    def create_charge(self, charge: Charge) -> str:
        payload = {
            "amount.value": str(int(charge.amount * 100)),
            "amount.currency": charge.currency,
            "reference": charge.charge_id,
        }
        result = self._gateway("/payments", payload)
        return self._psp_reference(result, charge)

    def _psp_reference(self, result: GatewayResponse, charge: Charge) -> str:
        if result.body.get("resultCode") == "Refused":
            raise CardDeclinedError(
                self.name, result.body["refusalReason"], charge.charge_id
            )
        return result.body["pspReference"]


class BraintreeAdapter:
    name = "braintree"

    def __init__(self, gateway: Gateway):
        self._gateway = gateway

    def create_charge(self, charge: Charge) -> str:
        response = self._gateway("/transactions", {"amount": f"{charge.amount:.2f}"})
        transaction = response.body
        if transaction["status"] == "processor_declined":
            raise CardDeclinedError(
                self.name, transaction["processor_response_code"], charge.charge_id
            )
        return transaction["id"]


Adapter = StripeAdapter | AdyenAdapter | BraintreeAdapter


class PaymentsClient:
    def __init__(self, adapter: Adapter, *, max_attempts: int = 3):
        self._adapter = adapter
        self._max_attempts = max_attempts

    def charge(self, charge: Charge) -> str:
        self._validate(charge)
        return self._with_retries(charge)

    def _validate(self, charge: Charge) -> None:
        if not _IDEMPOTENCY_KEY.match(charge.idempotency_key):
            raise ValueError(
                f"invalid idempotency key {charge.idempotency_key!r}: "
                "expected 8 and 4 lowercase alphanumerics joined by '-'"
            )
        if charge.amount <= 0:
            raise ValueError(
                f"charge {charge.charge_id} has non-positive amount {charge.amount}"
            )

    def _with_retries(self, charge: Charge) -> str:
        last_error: Exception | None = None
        for _attempt in range(self._max_attempts):
            try:
                return self._adapter.create_charge(charge)
            except GatewayTimeoutError as error:
                last_error = error
        raise PaymentFailedError(
            f"charge {charge.charge_id} failed after {self._max_attempts} attempts"
        ) from last_error


def build_client(provider: str, gateway: Gateway) -> PaymentsClient:
    adapters: dict[str, type[Adapter]] = {
        "stripe": StripeAdapter,
        "adyen": AdyenAdapter,
        "braintree": BraintreeAdapter,
    }
    return PaymentsClient(adapters[provider](gateway))
