from __future__ import annotations

import random

import pytest

from consumers.samples.scenarios import SCENARIOS, run_scenario, select_scenarios


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_scenario_raises(scenario: object) -> None:
    for seed in range(3):
        error = run_scenario(scenario, random.Random(seed))  # type: ignore[arg-type]
        assert isinstance(error, Exception)


def test_scenario_names_unique() -> None:
    names = [scenario.name for scenario in SCENARIOS]
    assert len(names) == len(set(names))


def test_scenarios_include_chains() -> None:
    errors = [run_scenario(s, random.Random(0)) for s in SCENARIOS]
    assert any(e.__cause__ is not None for e in errors)
    assert any(e.__cause__ is None and e.__context__ is not None for e in errors)
    assert any(isinstance(e, ExceptionGroup) for e in errors)


def test_select_scenarios_keeps_registry_order() -> None:
    chosen = select_scenarios(["reports.bad_date", "checkout.empty_cart"])
    assert [s.name for s in chosen] == ["checkout.empty_cart", "reports.bad_date"]


def test_select_scenarios_unknown_name() -> None:
    with pytest.raises(KeyError, match="unknown scenario 'nope'"):
        select_scenarios(["nope"])
