"""Scenarios: requests that drive the sample application into real exceptions.

Most scenarios are one code path, so their events share a stack trace (one
issue) while their messages carry varying ids and amounts. The nested pricing
rule scenarios vary their stack depth and so spread over several issues.
`SCENARIOS` lists the scenarios in a fixed order, and `run_scenario` returns
the raised exception with its traceback.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from consumers.samples.app import views
from consumers.samples.app.service import Request, handle
from consumers.samples.app.views import PROVIDERS, View


@dataclass(frozen=True)
class Scenario:
    name: str
    method: str
    path: str
    view: View


class ScenarioDidNotRaiseError(AssertionError):
    """A scenario's view returned normally; the scenario is broken."""


def run_scenario(scenario: Scenario, rng: random.Random) -> Exception:
    """Run one scenario and return the exception it raised.

    Raises `ScenarioDidNotRaiseError` when the view returns normally.
    """
    request = Request(
        scenario.method,
        scenario.path,
        user_id=f"user-{rng.randrange(1, 5000)}",
        headers={"x-request-id": f"{rng.getrandbits(64):016x}"},
    )
    try:
        handle(request, lambda inner: scenario.view(inner, rng))
    except Exception as error:
        return error
    raise ScenarioDidNotRaiseError(f"scenario {scenario.name} returned without raising")


def _provider_scenarios() -> list[Scenario]:
    scenarios: list[Scenario] = []
    for provider in PROVIDERS:
        scenarios += [
            Scenario(
                f"checkout.declined.{provider}",
                "POST",
                "/checkout",
                views.declined_view(provider),
            ),
            Scenario(
                f"checkout.timeout.{provider}",
                "POST",
                "/checkout",
                views.timeout_view(provider),
            ),
            Scenario(
                f"payments.missing_field.{provider}",
                "POST",
                "/charges",
                views.missing_field_view(provider),
            ),
        ]
    return scenarios


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("checkout.empty_cart", "POST", "/checkout", views.view_empty_cart),
    Scenario("checkout.unknown_coupon", "POST", "/checkout", views.view_unknown_coupon),
    Scenario("checkout.unknown_region", "POST", "/checkout", views.view_unknown_region),
    Scenario("checkout.zero_packages", "POST", "/checkout", views.view_zero_packages),
    Scenario("checkout.out_of_stock", "POST", "/checkout", views.view_out_of_stock),
    Scenario(
        "checkout.reservation_conflict",
        "POST",
        "/checkout",
        views.view_reservation_conflict,
    ),
    Scenario(
        "checkout.invalid_idempotency_key",
        "POST",
        "/checkout",
        views.view_invalid_idempotency_key,
    ),
    Scenario(
        "checkout.release_after_webhook",
        "POST",
        "/checkout",
        views.view_release_after_webhook,
    ),
    *_provider_scenarios(),
    Scenario("rules.unexpected_token", "PUT", "/rules", views.view_unexpected_token),
    Scenario(
        "rules.unterminated_string", "PUT", "/rules", views.view_unterminated_string
    ),
    Scenario(
        "rules.unexpected_character", "PUT", "/rules", views.view_unexpected_character
    ),
    Scenario("rules.missing_paren", "PUT", "/rules", views.view_missing_paren),
    Scenario(
        "rules.undefined_variable", "POST", "/quote", views.view_undefined_variable
    ),
    Scenario(
        "rules.division_by_zero", "POST", "/quote", views.view_rule_division_by_zero
    ),
    Scenario("rules.invalid_number", "PUT", "/rules", views.view_invalid_number),
    Scenario("settings.invalid_json", "PUT", "/settings", views.view_invalid_settings),
    Scenario("settings.not_object", "PUT", "/settings", views.view_settings_not_object),
    Scenario("settings.rules_missing", "PUT", "/settings", views.view_rules_missing),
    Scenario(
        "cache.unserializable_value", "GET", "/profile", views.view_unserializable_value
    ),
    Scenario("cache.loader_missing", "GET", "/profile", views.view_loader_missing),
    Scenario("cache.backend_down", "GET", "/profile", views.view_backend_down),
    Scenario(
        "cache.expire_while_iterating",
        "POST",
        "/cache/expire",
        views.view_expire_while_iterating,
    ),
    Scenario("reports.bad_date", "POST", "/reports", views.view_bad_date),
    Scenario("reports.invalid_rows", "POST", "/reports", views.view_invalid_rows),
    Scenario("reports.short_row", "POST", "/reports", views.view_short_row),
    Scenario("reports.missing_manager", "POST", "/reports", views.view_missing_manager),
    Scenario("reports.empty_import", "POST", "/reports", views.view_empty_import),
    Scenario("reports.zero_revenue", "POST", "/reports", views.view_zero_revenue),
    Scenario("reports.bad_amount", "POST", "/reports", views.view_bad_amount),
)


def scenario_names() -> list[str]:
    return [scenario.name for scenario in SCENARIOS]


def select_scenarios(names: list[str] | None) -> tuple[Scenario, ...]:
    """Return the scenarios named, in registry order; None selects all.

    Raises `KeyError` naming the first unknown scenario.
    """
    if names is None:
        return SCENARIOS
    by_name = {scenario.name: scenario for scenario in SCENARIOS}
    for name in names:
        if name not in by_name:
            raise KeyError(f"unknown scenario {name!r}; known: {', '.join(by_name)}")
    return tuple(scenario for scenario in SCENARIOS if scenario.name in set(names))
