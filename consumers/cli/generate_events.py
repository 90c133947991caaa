"""`seer-backfill generate-events`: write events captured by the real sentry-sdk."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

import click


def _list_scenarios(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    """Print the scenario names and exit 0.

    The option is eager, like `--help`, so click runs this callback before it
    checks that the required --count and --out are given.
    """
    if not value or ctx.resilient_parsing:
        return
    from consumers.samples import scenario_names

    click.echo("\n".join(scenario_names()))
    ctx.exit(0)


@click.command("generate-events")
@click.option(
    "--count",
    type=click.IntRange(min=1),
    required=True,
    help="Number of events to generate.",
)
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Directory to write into; created when missing. Files of the same name "
    "are overwritten.",
)
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Seed of scenario choice, event ids and timestamps.",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["envelope", "json"]),
    default="envelope",
    show_default=True,
    help="envelope: one <event_id>.envelope file per event; "
    "json: one events.json list.",
)
@click.option(
    "--span-days",
    type=click.FloatRange(min=0, min_open=True),
    default=7.0,
    show_default=True,
    help="Timestamps rise over this many days, ending now.",
)
@click.option(
    "--scenario",
    "scenarios",
    multiple=True,
    help="Only this scenario (repeatable); see --list-scenarios.",
)
@click.option(
    "--list-scenarios",
    is_flag=True,
    is_eager=True,
    expose_value=False,
    callback=_list_scenarios,
    help="Print the scenario names and exit; --count and --out are not needed.",
)
def generate_events(
    count: int,
    out: Path,
    seed: int,
    output_format: str,
    span_days: float,
    scenarios: tuple[str, ...],
) -> None:
    """Run the sample application's failure scenarios under the sentry-sdk and
    write the captured error events to OUT.

    Events come from real exceptions; no network traffic happens. A few
    scenarios are frequent and most are rare, and with COUNT at least twice
    the number of scenarios every scenario occurs at least twice.

    Exit codes: 0 written or listed; 1 a write failed; 2 usage error.
    """
    from tqdm import tqdm

    from consumers.samples import (
        generate_events as generate,
    )
    from consumers.samples import (
        select_scenarios,
        write_envelopes,
        write_json,
    )

    try:
        chosen = select_scenarios(list(scenarios) or None)
    except KeyError as error:
        raise click.BadParameter(str(error.args[0]), param_hint="--scenario") from error
    events = tqdm(
        generate(count, seed=seed, scenarios=chosen, span=timedelta(days=span_days)),
        total=count,
        unit="event",
        disable=not sys.stderr.isatty(),
    )
    try:
        if output_format == "json":
            written = write_json(events, out / "events.json")
        else:
            written = len(write_envelopes(events, out))
    except OSError as error:
        raise click.ClickException(f"cannot write to {out}: {error}") from error
    click.echo(
        f"wrote {written} events from {len(chosen)} scenarios "
        f"to {out} ({output_format})"
    )
