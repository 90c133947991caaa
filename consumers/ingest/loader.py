"""Load events into the database: prepare each one, write them in batches.

`Ingestor` carries the state of one run: it prepares events as they arrive,
writes a batch whenever `batch_size` valid events are buffered (batches span
files), and accumulates one `IngestReport`. The functions below wrap it for
one list of events, one file, or many paths.
"""

from __future__ import annotations

import functools
import logging
import multiprocessing
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from consumers.grouping import Enhancements
from consumers.ingest.prepare import (
    InvalidEvent,
    PreparedEvent,
    parse_timestamp,
    prepare_event,
)
from consumers.ingest.report import IngestReport
from consumers.ingest.sources import RawItem, Source, expand_paths, read_source
from consumers.ingest.store import ProjectSettings, write_batch

logger = logging.getLogger(__name__)

Database = psycopg.Connection[Any] | ConnectionPool
FileCallback = Callable[[Path, IngestReport], None]


@dataclass(frozen=True)
class IngestOptions:
    """Settings of one ingest run.

    `organization_id`, `slug` and `platform` fill the project row when it is
    missing (slug default `project-<id>`, platform default: the first
    event's). `time_offset` is added to every timestamp read from the input.
    `batch_size` is the number of events per transaction. `workers` > 1
    prepares events (normalising and hashing, the costly part) in that many
    processes; `enhancements` must then be picklable.
    """

    organization_id: int = 1
    slug: str | None = None
    platform: str | None = None
    time_offset: timedelta | None = None
    batch_size: int = 500
    enhancements: Enhancements | None = None
    workers: int = 1


def _prepare_item(
    item: RawItem,
    *,
    source: str,
    project_id: int,
    time_offset: timedelta | None,
    enhancements: Enhancements | None,
) -> PreparedEvent | InvalidEvent:
    return prepare_event(
        item.value,
        source=source,
        index=item.index,
        project_id=project_id,
        time_offset=time_offset,
        enhancements=enhancements,
    )


def _chunks(items: Iterable[RawItem], size: int) -> Iterator[list[RawItem]]:
    chunk: list[RawItem] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class Ingestor:
    """Prepare and write events of one project.

    Call `flush` at the end to write the last batch, and `close` (or use it
    as a context manager) to stop worker processes.
    """

    def __init__(
        self, project_id: int, database: Database, options: IngestOptions
    ) -> None:
        if options.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {options.batch_size}")
        if options.workers < 1:
            raise ValueError(f"workers must be >= 1, got {options.workers}")
        self.project = ProjectSettings(
            project_id, options.organization_id, options.slug, options.platform
        )
        self.report = IngestReport()
        self._database = database
        self._options = options
        self._pending: list[PreparedEvent] = []
        self._created: set[int] = set()
        self._updated: set[int] = set()
        self._executor: ProcessPoolExecutor | None = None

    def add_items(
        self,
        source: str,
        items: Iterable[RawItem],
        *,
        time_offset: timedelta | None = None,
    ) -> None:
        """Prepare the items of one source and write full batches.

        `time_offset`, when given, replaces the options' offset.
        """
        prepare = functools.partial(
            _prepare_item,
            source=source,
            project_id=self.project.id,
            time_offset=self._options.time_offset
            if time_offset is None
            else time_offset,
            enhancements=self._options.enhancements,
        )
        for chunk in _chunks(items, self._options.batch_size):
            self.report.events_read += len(chunk)
            decoded = [item for item in chunk if item.error is None]
            results = iter(self._map(prepare, decoded))
            for item in chunk:
                if item.error is not None:
                    self._reject(InvalidEvent(source, item.index, item.error))
                    continue
                self._accept(next(results))

    def _accept(self, prepared: PreparedEvent | InvalidEvent) -> None:
        if isinstance(prepared, InvalidEvent):
            self._reject(prepared)
            return
        self._pending.append(prepared)
        if len(self._pending) >= self._options.batch_size:
            self.flush()

    def _map(
        self,
        prepare: Callable[[RawItem], PreparedEvent | InvalidEvent],
        items: list[RawItem],
    ) -> Iterable[PreparedEvent | InvalidEvent]:
        workers = self._options.workers
        if workers == 1 or len(items) < 2:
            return map(prepare, items)
        if self._executor is None:
            # spawn, not fork: the parent may hold database connections and
            # pool threads that a forked child must not inherit.
            self._executor = ProcessPoolExecutor(
                max_workers=workers, mp_context=multiprocessing.get_context("spawn")
            )
        return self._executor.map(
            prepare, items, chunksize=max(1, len(items) // (workers * 4))
        )

    def add_source(
        self, source: Source, *, time_offset: timedelta | None = None
    ) -> None:
        self.report.files += 1
        self.report.ignored_items.update(source.ignored)
        if source.error is not None:
            self._reject(InvalidEvent(source.name, None, source.error))
            return
        self.add_items(source.name, source.items, time_offset=time_offset)

    def flush(self) -> None:
        """Write the buffered events.

        Raises `psycopg.Error`, after the batch is rolled back.
        """
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        if isinstance(self._database, ConnectionPool):
            with self._database.connection() as conn:
                result = write_batch(conn, self.project, batch)
        else:
            result = write_batch(self._database, self.project, batch)
        self.report.events_loaded += result.loaded
        self.report.events_skipped += result.skipped
        self._created |= result.created_group_ids
        self._updated |= result.updated_group_ids
        self.report.groups_created = len(self._created)
        self.report.groups_updated = len(self._updated - self._created)

    def close(self) -> None:
        """Stop the worker processes, if any; buffered events are not written."""
        if self._executor is not None:
            self._executor.shutdown()
            self._executor = None

    def __enter__(self) -> Ingestor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _reject(self, invalid: InvalidEvent) -> None:
        logger.warning(
            "invalid event: project=%s %s: %s",
            self.project.id,
            invalid.location(),
            invalid.reason,
        )
        self.report.invalid.append(invalid)


def ingest_events(
    events: Mapping[str, Any] | Iterable[object],
    project_id: int,
    database: Database,
    options: IngestOptions = IngestOptions(),
    *,
    source: str = "<events>",
) -> IngestReport:
    """Load one event or many decoded event values into the project.

    Raises `psycopg.Error` when a batch fails; earlier batches stay committed
    and a rerun skips them.
    """
    values: Iterable[object] = [events] if isinstance(events, Mapping) else events
    with Ingestor(project_id, database, options) as ingestor:
        ingestor.add_items(
            source, (RawItem(index, value) for index, value in enumerate(values))
        )
        ingestor.flush()
    return ingestor.report


def ingest_file(
    path: str | Path,
    project_id: int,
    database: Database,
    options: IngestOptions = IngestOptions(),
) -> IngestReport:
    """Load one JSON event file, JSON list file or envelope file.

    A file that cannot be decoded is reported, not raised. Raises `OSError`
    when it cannot be read and `psycopg.Error` when a batch fails.
    """
    with Ingestor(project_id, database, options) as ingestor:
        ingestor.add_source(read_source(Path(path)))
        ingestor.flush()
    return ingestor.report


def newest_timestamp(source: Source) -> datetime | None:
    """Return the newest readable `timestamp` among the events of `source`."""
    stamps = (
        parse_timestamp(item.value.get("timestamp"))
        for item in source.items
        if isinstance(item.value, dict)
    )
    return max((stamp for stamp in stamps if stamp is not None), default=None)


def shift_to_now_offset(
    source: Source, now: datetime | None = None
) -> timedelta | None:
    """Compute the offset that moves the newest event timestamp of `source` to `now`.

    Returns None when no event of the source has a readable timestamp.
    """
    newest = newest_timestamp(source)
    if newest is None:
        return None
    return (now or datetime.now(UTC)) - newest


def ingest_paths(
    paths: Iterable[str | Path],
    project_id: int,
    database: Database,
    options: IngestOptions = IngestOptions(),
    *,
    shift_to_now: bool = False,
    on_file: FileCallback | None = None,
) -> IngestReport:
    """Load files and the files under directories, batching across files.

    With `shift_to_now`, the timestamps of each file move by one offset so
    that the file's newest event lands at the current time: spacing within a
    file is kept, spacing between files is not. This brings samples of any
    age into the backfill's 90-day window. `on_file` is called after each
    file with the running report.
    """
    shifted = 0
    with Ingestor(project_id, database, options) as ingestor:
        for path in expand_paths(paths):
            source = read_source(path)
            offset = shift_to_now_offset(source) if shift_to_now else None
            if offset is not None:
                shifted += 1
                # One line per file would flood the log of a directory of
                # envelopes, which hold one event each.
                logger.debug(
                    "project=%s %s: shifting timestamps by %s", project_id, path, offset
                )
            ingestor.add_source(source, time_offset=offset)
            if on_file is not None:
                on_file(path, ingestor.report)
        ingestor.flush()
    if shift_to_now:
        logger.info(
            "project=%s: shifted the timestamps of %d files, each so that its "
            "newest event is at the current time",
            project_id,
            shifted,
        )
    return ingestor.report
