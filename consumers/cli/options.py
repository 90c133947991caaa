"""Options shared by several commands.

Each setting has one name: the flag `--database-url` reads the environment
variable `SEER_BACKFILL_DATABASE_URL` when the flag is absent. `envvar_for`
derives the variable from the flag, so the two never drift apart.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar, cast

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


def _check_bootstrap_servers(
    ctx: click.Context, param: click.Parameter, value: str
) -> str:
    # librdkafka accepts an empty list and then waits forever for a broker,
    # which looks like a hang. An unset shell variable is the usual cause.
    if not value.strip():
        problem = "is empty"
    elif not all(entry.strip() for entry in value.split(",")):
        problem = f"{value!r} has an empty entry"
    else:
        return value
    raise click.BadParameter(
        f"{problem}; give comma-separated host:port pairs", ctx, param
    )


bootstrap_servers = setting(
    "--bootstrap-servers",
    default=DEFAULT_BOOTSTRAP_SERVERS,
    show_default=True,
    callback=_check_bootstrap_servers,
    help="Kafka bootstrap servers, comma-separated host:port pairs.",
)
_database_url_option = setting(
    "--database-url",
    default=DEFAULT_DATABASE_URL,
    show_default=True,
    help="PostgreSQL connection URL of the node store and group tables.",
)


def describe_database(url: str) -> str:
    """Name the database and server of `url`, leaving out the password."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        params = conninfo_to_dict(url)
    except Exception:
        # An unparsable URL is reported by psycopg itself; never echo it,
        # because it may contain a password.
        return "the database at --database-url"
    host = params.get("host") or "the default host"
    port = params.get("port") or "5432"
    dbname = params.get("dbname") or params.get("user") or "postgres"
    return f"database {dbname!r} on {host}:{port}"


def database_error_message(error: BaseException, url: str) -> str | None:
    """Return an actionable message for a database that cannot be reached or
    has no schema, or None when `error` is any other error.
    """
    import psycopg
    from psycopg import errors

    target = describe_database(url)
    if isinstance(error, errors.UndefinedTable):
        return (
            f"{error.diag.message_primary or error} in {target}: the schema is "
            "missing; run `seer-backfill db migrate` with the same --database-url "
            "first"
        )
    # psycopg raises the base OperationalError, without a SQLSTATE, when it
    # cannot connect or loses the connection; server-side errors are subclasses.
    if type(error) is psycopg.OperationalError and error.sqlstate is None:
        reason = " ".join(str(error).split())
        if "does not exist" in reason:
            return (
                f"cannot connect to {target}: {reason}; create the database "
                "(for example with createdb) or check --database-url"
            )
        return (
            f"cannot connect to {target}: {reason}; check --database-url and "
            "that the server is running"
        )
    return None


def database_url(command: F) -> F:
    """Add `--database-url`, and turn connection failures and a missing schema
    raised by `command` into an `Error:` line with exit code 1.
    """

    @functools.wraps(command)
    def run_command(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except Exception as error:
            url = kwargs.get("database_url")
            if not isinstance(url, str):
                raise
            message = database_error_message(error, url)
            if message is None:
                raise
            raise click.ClickException(message) from error

    return _database_url_option(cast(F, run_command))


def _check_seer_url(ctx: click.Context, param: click.Parameter, value: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise click.BadParameter(
            f"{value!r} is not an http:// or https:// URL with a host, "
            f"such as {DEFAULT_SEER_URL}"
        )
    return value


seer_url = setting(
    "--seer-url",
    default=DEFAULT_SEER_URL,
    show_default=True,
    callback=_check_seer_url,
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
