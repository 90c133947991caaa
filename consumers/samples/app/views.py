"""Request handlers (views) of the sample application.

Each view drives the application into one failure. The `rng` argument
varies ids, amounts and inputs, so events of one view differ in their
messages while most views keep one stack trace.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal

from consumers.samples.app import cache, parser, payments, reports
from consumers.samples.app.checkout import Cart, CheckoutService, LineItem, PriceBook
from consumers.samples.app.inventory import Inventory, Warehouse
from consumers.samples.app.payments import GatewayResponse, GatewayTimeoutError
from consumers.samples.app.service import Request

PROVIDERS = ("stripe", "adyen", "braintree")

View = Callable[[Request, random.Random], object]


# -- checkout ---------------------------------------------------------------


def _cart(rng: random.Random, **overrides: object) -> Cart:
    cart = Cart(
        cart_id=f"c{rng.randrange(10**6):06d}",
        region="eu",
        currency="EUR",
        lines=[
            LineItem("sku-mug", rng.randrange(1, 4), Decimal("12.50")),
            LineItem("sku-tee", rng.randrange(1, 3), Decimal("19.99")),
        ],
    )
    for name, value in overrides.items():
        setattr(cart, name, value)
    return cart


def _shop(
    provider: str, gateway: payments.Gateway, *, mugs: int = 50
) -> CheckoutService:
    prices = PriceBook(
        tax_rates={"eu": Decimal("0.20"), "us": Decimal("0.07")},
        coupons={"WELCOME10": Decimal(10), "SPRING25": Decimal(25)},
    )
    inventory = Inventory(
        {
            "eu": Warehouse("fra-1", {"sku-mug": mugs, "sku-tee": 40}),
            "us": Warehouse("iad-2", {"sku-mug": mugs, "sku-tee": 15}),
        }
    )
    return CheckoutService(prices, inventory, payments.build_client(provider, gateway))


def _ok_gateway(provider: str) -> payments.Gateway:
    bodies = {
        "stripe": {"id": "ch_1"},
        "adyen": {"resultCode": "Authorised", "pspReference": "psp-1"},
        "braintree": {"status": "submitted_for_settlement", "id": "bt-1"},
    }
    return payments.scripted_gateway([GatewayResponse(200, bodies[provider])] * 3)


def _key(rng: random.Random) -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    first = "".join(rng.choice(alphabet) for _ in range(8))
    return first + "-" + "".join(rng.choice(alphabet) for _ in range(4))


def view_empty_cart(request: Request, rng: random.Random) -> object:
    return _shop("stripe", _ok_gateway("stripe")).place_order(
        _cart(rng, lines=[]), _key(rng)
    )


def view_unknown_coupon(request: Request, rng: random.Random) -> object:
    cart = _cart(rng, coupon=rng.choice(["BLACKFRIDAY", "free100", "SUMMER5"]))
    return _shop("stripe", _ok_gateway("stripe")).place_order(cart, _key(rng))


def view_unknown_region(request: Request, rng: random.Random) -> object:
    cart = _cart(rng, region=rng.choice(["apac", "latam"]))
    return _shop("adyen", _ok_gateway("adyen")).place_order(cart, _key(rng))


def view_zero_packages(request: Request, rng: random.Random) -> object:
    return _shop("stripe", _ok_gateway("stripe")).place_order(
        _cart(rng, packages=0), _key(rng)
    )


def view_out_of_stock(request: Request, rng: random.Random) -> object:
    shop = _shop("braintree", _ok_gateway("braintree"), mugs=0)
    return shop.place_order(_cart(rng, region=rng.choice(["eu", "us"])), _key(rng))


def view_reservation_conflict(request: Request, rng: random.Random) -> object:
    shop = _shop("stripe", _ok_gateway("stripe"))
    cart = _cart(rng)
    shop.place_order(cart, _key(rng))
    return shop.place_order(cart, _key(rng))


def view_invalid_idempotency_key(request: Request, rng: random.Random) -> object:
    key = rng.choice(["", "ABC", "order-" + str(rng.randrange(1000))])
    return _shop("adyen", _ok_gateway("adyen")).place_order(_cart(rng), key)


def _declined_response(provider: str, rng: random.Random) -> GatewayResponse:
    code = rng.choice(["insufficient_funds", "do_not_honor", "expired_card"])
    if provider == "stripe":
        return GatewayResponse(402, {"decline_code": code})
    if provider == "adyen":
        return GatewayResponse(200, {"resultCode": "Refused", "refusalReason": code})
    return GatewayResponse(
        200,
        {"status": "processor_declined", "processor_response_code": code, "id": "bt"},
    )


def declined_view(provider: str) -> View:
    def view(request: Request, rng: random.Random) -> object:
        gateway = payments.scripted_gateway([_declined_response(provider, rng)])
        return _shop(provider, gateway).place_order(_cart(rng), _key(rng))

    return view


def timeout_view(provider: str) -> View:
    def view(request: Request, rng: random.Random) -> object:
        timeouts: list[GatewayResponse | Exception] = [
            GatewayTimeoutError(f"{provider} did not respond within {seconds}s")
            for seconds in (5, 10, 20)
        ]
        return _shop(provider, payments.scripted_gateway(timeouts)).place_order(
            _cart(rng), _key(rng)
        )

    return view


def view_release_after_webhook(request: Request, rng: random.Random) -> object:
    """Decline a charge whose stock the provider's webhook already released."""
    holder: list[CheckoutService] = []
    cart = _cart(rng)

    def gateway(path: str, form: dict[str, str]) -> GatewayResponse:
        holder[0]._inventory.release(cart.cart_id, cart.region)
        return _declined_response("stripe", rng)

    holder.append(_shop("stripe", gateway))
    return holder[0].place_order(cart, _key(rng))


def missing_field_view(provider: str) -> View:
    def view(request: Request, rng: random.Random) -> object:
        gateway = payments.scripted_gateway([GatewayResponse(200, {"status": "ok"})])
        charge = payments.Charge(
            f"ch{rng.randrange(10**5)}", Decimal("9.99"), "USD", _key(rng)
        )
        return payments.build_client(provider, gateway).charge(charge)

    return view


# -- pricing rules ----------------------------------------------------------


def _nested(rng: random.Random, core: str) -> str:
    depth = rng.randrange(1, 12)
    return "(" * depth + core + ")" * depth


def view_unexpected_token(request: Request, rng: random.Random) -> object:
    return parser.compile_rule(_nested(rng, "price * * 2"))


def view_unterminated_string(request: Request, rng: random.Random) -> object:
    return parser.compile_rule(f'price + "discount {rng.randrange(100)}')


def view_unexpected_character(request: Request, rng: random.Random) -> object:
    return parser.compile_rule(f"price {rng.choice('%$#@')} 3")


def view_missing_paren(request: Request, rng: random.Random) -> object:
    return parser.compile_rule("(" * rng.randrange(1, 6) + "price * 2")


def view_undefined_variable(request: Request, rng: random.Random) -> object:
    rule = _nested(rng, f"price * {rng.choice(['margin', 'vat', 'fx_rate'])}")
    return parser.apply_rule(rule, {"price": Decimal("10.00")})


def view_rule_division_by_zero(request: Request, rng: random.Random) -> object:
    rule = _nested(rng, "price / (quantity - quantity)")
    return parser.apply_rule(rule, {"price": Decimal(5), "quantity": Decimal(3)})


def view_invalid_number(request: Request, rng: random.Random) -> object:
    return parser.compile_rule(f"price * {rng.randrange(1, 9)}.{rng.randrange(1, 9)}.5")


def view_invalid_settings(request: Request, rng: random.Random) -> object:
    document = rng.choice(['{"rules": {"a": "1"', "{'rules': {}}", '{"rules": [1,]}'])
    return parser.load_rules(document, source=f"tenant-{rng.randrange(100)}.json")


def view_settings_not_object(request: Request, rng: random.Random) -> object:
    return parser.load_rules("[1, 2, 3]", source=f"tenant-{rng.randrange(100)}.json")


def view_rules_missing(request: Request, rng: random.Random) -> object:
    return parser.load_rules(
        '{"version": 2}', source=f"tenant-{rng.randrange(100)}.json"
    )


# -- cache --------------------------------------------------------------------


def view_unserializable_value(request: Request, rng: random.Random) -> object:
    profiles: dict[str, dict[str, object]] = {
        "7": {"name": "Ada", "last_login": datetime(2024, 1, rng.randrange(1, 28))}
    }
    lru = cache.LRUCache(cache.JsonBackend())
    return lru.get_or_load("profile:7", cache.profile_loader(profiles))


def view_loader_missing(request: Request, rng: random.Random) -> object:
    lru = cache.LRUCache(cache.JsonBackend())
    return lru.get_or_load(
        f"profile:{rng.randrange(100, 999)}", cache.profile_loader({})
    )


def view_backend_down(request: Request, rng: random.Random) -> object:
    lru = cache.LRUCache(cache.JsonBackend(reachable=False))
    return lru.get_or_load(f"profile:{rng.randrange(100)}", cache.profile_loader({}))


def view_expire_while_iterating(request: Request, rng: random.Random) -> object:
    lru = cache.LRUCache(cache.JsonBackend())
    now = datetime(2024, 5, 1, 12, 0)
    for index in range(rng.randrange(2, 6)):
        lru.set_expiry(f"k{index}", now - timedelta(minutes=index + 1))
    return lru.expire(now)


# -- reports --------------------------------------------------------------------

_GOOD_ROW = "2024-03-01,emea,120.50,Grace"


def view_bad_date(request: Request, rng: random.Random) -> object:
    return reports.build_report(
        _GOOD_ROW + f"\n2024-{rng.randrange(13, 99)}-01,emea,10,Alan"
    )


def view_invalid_rows(request: Request, rng: random.Random) -> object:
    bad = "\n".join("2024-03-02,,5,Linus" for _ in range(rng.randrange(1, 5)))
    return reports.build_report(_GOOD_ROW + "\n" + bad, strict=True)


def view_short_row(request: Request, rng: random.Random) -> object:
    return reports.build_report(_GOOD_ROW + "\n2024-03-02,emea")


def view_missing_manager(request: Request, rng: random.Random) -> object:
    return reports.build_report(
        _GOOD_ROW + f"\n2024-03-03,apac,{rng.randrange(1, 99)},"
    )


def view_empty_import(request: Request, rng: random.Random) -> object:
    return reports.build_report("")


def view_zero_revenue(request: Request, rng: random.Random) -> object:
    return reports.build_report("2024-03-01,emea,0,Grace\n2024-03-02,apac,0.00,Alan")


def view_bad_amount(request: Request, rng: random.Random) -> object:
    return reports.build_report(
        _GOOD_ROW + f"\n2024-03-04,emea,{rng.choice(['n/a', '12..5', 'EUR12'])},Ken"
    )
