"""Options shared by several commands.

Each setting has one name: the flag `--database-url` reads the environment
variable `SEER_BACKFILL_DATABASE_URL` when the flag is absent. `envvar_for`
derives the variable from the flag, so the two never drift apart.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

ENV_PREFIX = "SEER_BACKFILL_"

DEFAULT_BOOTSTRAP_SERVERS = "127.0.0.1:9092"
DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_SEER_URL = "http://127.0.0.1:9091"

INPUT_TOPIC = "backfill-project-batches"
DLQ_TOPIC = "backfill-project-batches-dlq"
OUTCOMES_TOPIC = "outcomes"
DEFAULT_CONSUMER_GROUP = "seer-backfill"


def envvar_for(flag: str) -> str:
    """Map `--seer-url` to `SEER_BACKFILL_SEER_URL`."""
    return ENV_PREFIX + flag.lstrip("-").replace("-", "_").upper()


def setting(flag: str, *names: str, **kwargs: Any) -> Callable[[F], F]:
    """A click option whose environment variable is derived from its flag."""
    kwargs.setdefault("show_envvar", True)
    return click.option(flag, *names, envvar=envvar_for(flag), **kwargs)


bootstrap_servers = setting(
    "--bootstrap-servers",
    default=DEFAULT_BOOTSTRAP_SERVERS,
    show_default=True,
    help="Kafka bootstrap servers, comma-separated host:port pairs.",
)
database_url = setting(
    "--database-url",
    default=DEFAULT_DATABASE_URL,
    show_default=True,
    help="PostgreSQL connection URL of the node store and group tables.",
)
seer_url = setting(
    "--seer-url",
    default=DEFAULT_SEER_URL,
    show_default=True,
    help="Base URL of the Seer service (or of `seer-backfill seer-local`).",
)
seer_secret = setting(
    "--seer-secret",
    default=None,
    help="Shared secret that signs Seer requests (HMAC-SHA256); unset: unsigned.",
)
log_level = setting(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
    default="info",
    show_default=True,
    help="Minimum level of log lines written to stderr.",
)


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper()),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    # httpx logs every request at INFO; the Seer client logs failures itself.
    if level.lower() != "debug":
        logging.getLogger("httpx").setLevel(logging.WARNING)
