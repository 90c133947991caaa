"""PostgreSQL storage and neighbour search of the local Seer service.

Records live in `<schema>.seer_grouping_records`, unique on
(project_id, hash). Each row stores its embedding (`DIMENSIONS` int16
components) and its bucket keys (see `embedding`), indexed with GIN. A
neighbour search reads only the rows that share a bucket key with the query,
at most `candidate_limit` rows per key, and computes exact cosine distances
on those. The search is therefore approximate: a record within the
threshold that shares no bucket with the query, or that falls beyond the
per-bucket limit of a crowded bucket, is missed, and the new record is
stored as if it had no neighbour.

Like Seer, two concurrent requests do not see each other's uncommitted
records, so two near-identical records sent at the same moment may both be
stored.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from psycopg import Connection, sql
from psycopg.rows import TupleRow
from psycopg_pool import ConnectionPool

from consumers.seer.service.embedding import (
    Embedding,
    bucket_keys,
    cosine_distance,
    embed,
)

logger = logging.getLogger(__name__)

DEFAULT_SCHEMA = "seer_local"
TABLE = "seer_grouping_records"
DEFAULT_CANDIDATE_LIMIT = 64

_DDL = """
CREATE SCHEMA IF NOT EXISTS {schema};
CREATE TABLE IF NOT EXISTS {table} (
    id             bigserial PRIMARY KEY,
    project_id     bigint NOT NULL,
    hash           text NOT NULL,
    exception_type text,
    embedding      bytea NOT NULL,
    bucket_keys    bigint[] NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (project_id, hash)
);
CREATE INDEX IF NOT EXISTS {index} ON {table} USING gin (bucket_keys);
"""


@dataclass(frozen=True)
class NewRecord:
    """A record to store, with its embedding and bucket keys computed."""

    group_id: int
    project_id: int
    hash: str
    exception_type: str | None
    embedding: Embedding
    keys: tuple[int, ...]

    @classmethod
    def build(
        cls,
        *,
        group_id: int,
        project_id: int,
        hash: str,
        exception_type: str | None,
        stacktrace: str,
    ) -> NewRecord:
        embedding = embed(stacktrace)
        return cls(
            group_id=group_id,
            project_id=project_id,
            hash=hash,
            exception_type=exception_type,
            embedding=embedding,
            keys=tuple(bucket_keys(project_id, embedding)),
        )


@dataclass(frozen=True)
class Neighbor:
    """A stored record near a query, `distance` being the cosine distance."""

    hash: str
    distance: float


@dataclass(frozen=True)
class _Candidate:
    project_id: int
    hash: str
    embedding: Embedding


class RecordStore:
    """The service's records table, behind a psycopg connection pool.

    `open` creates the schema, table and index when missing (idempotent, and
    serialised with an advisory lock so two services may start at once).
    """

    def __init__(
        self,
        database_url: str,
        *,
        schema: str = DEFAULT_SCHEMA,
        pool_size: int = 10,
        candidate_limit: int = DEFAULT_CANDIDATE_LIMIT,
    ) -> None:
        self.schema = schema
        self.candidate_limit = candidate_limit
        self._table = sql.Identifier(schema, TABLE)
        self._insert = sql.SQL(
            "INSERT INTO {} (project_id, hash, exception_type, embedding, bucket_keys)"
            " VALUES (%s, %s, %s, %s, %s::bigint[])"
            " ON CONFLICT (project_id, hash) DO NOTHING"
        ).format(self._table)
        self._pool = ConnectionPool(
            database_url,
            min_size=1,
            max_size=pool_size,
            open=False,
            name="seer-local",
        )

    def open(self) -> None:
        """Connect and create the schema, table and index; raise `psycopg.Error`."""
        ddl = sql.SQL(_DDL).format(
            schema=sql.Identifier(self.schema),
            table=self._table,
            index=sql.Identifier(f"{TABLE}_bucket_keys"),
        )
        self._pool.open(wait=True, timeout=10.0)
        try:
            with self._pool.connection() as conn:
                conn.execute("SELECT pg_advisory_xact_lock(hashtext('seer_local_ddl'))")
                conn.execute(ddl)
        except BaseException:
            self._pool.close()
            raise

    def close(self) -> None:
        self._pool.close(timeout=5.0)

    def count(self) -> int:
        query = sql.SQL("SELECT count(*) FROM {}").format(self._table)
        with self._pool.connection() as conn:
            row = conn.execute(query).fetchone()
        return int(row[0]) if row else 0

    def insert_batch(
        self, records: Sequence[NewRecord], threshold: float
    ) -> dict[int, Neighbor]:
        """Store each record unless another hash lies within `threshold`.

        Records are considered in order, as Seer does: a record may be the
        neighbour of a later record of the same batch. Returns group id ->
        nearest neighbour for every record not stored. A record whose
        (project id, hash) already exists is left as it is.
        """
        with self._pool.connection() as conn:
            stored = self._candidates(conn, {key for r in records for key in r.keys})
            accepted: dict[int, list[_Candidate]] = defaultdict(list)
            accepted_hashes: set[tuple[int, str]] = set()
            neighbors: dict[int, Neighbor] = {}
            rows: list[_Row] = []
            for record in records:
                pools = [stored.get(key, ()) for key in record.keys]
                pools += [accepted.get(key, ()) for key in record.keys]
                nearest = _nearest(record, pools, threshold, k=1)
                if nearest:
                    neighbors[record.group_id] = nearest[0]
                    continue
                identity = (record.project_id, record.hash)
                if identity in accepted_hashes:
                    continue
                accepted_hashes.add(identity)
                candidate = _Candidate(record.project_id, record.hash, record.embedding)
                for key in record.keys:
                    accepted[key].append(candidate)
                rows.append(_row(record))
            if rows:
                with conn.cursor() as cursor:
                    cursor.executemany(self._insert, rows)
        return neighbors

    def search(
        self,
        record: NewRecord,
        *,
        max_distance: float,
        k: int,
        insert_threshold: float | None,
    ) -> list[Neighbor]:
        """Return up to `k` records within `max_distance`, nearest first.

        With `insert_threshold` set, also store `record` when no returned
        neighbour lies within it (the similar-issues endpoint's write mode).
        """
        with self._pool.connection() as conn:
            stored = self._candidates(conn, set(record.keys))
            pools = [stored.get(key, ()) for key in record.keys]
            nearest = _nearest(record, pools, max_distance, k)
            if insert_threshold is not None and not any(
                neighbor.distance <= insert_threshold for neighbor in nearest
            ):
                conn.execute(self._insert, _row(record))
        return nearest

    def delete_project(self, project_id: int) -> int:
        """Delete every record of a project; return how many were deleted."""
        query = sql.SQL("DELETE FROM {} WHERE project_id = %s").format(self._table)
        with self._pool.connection() as conn:
            return conn.execute(query, (project_id,)).rowcount

    def delete_hashes(self, project_id: int, hashes: Sequence[str]) -> int:
        """Delete a project's records with these hashes; return the count."""
        if not hashes:
            return 0
        query = sql.SQL(
            "DELETE FROM {} WHERE project_id = %s AND hash = ANY(%s::text[])"
        ).format(self._table)
        with self._pool.connection() as conn:
            return conn.execute(query, (project_id, list(hashes))).rowcount

    def _candidates(
        self, conn: Connection[TupleRow], keys: set[int]
    ) -> dict[int, list[_Candidate]]:
        """Read up to `candidate_limit` stored records per bucket key."""
        if not keys:
            return {}
        # The per-key LIMIT bounds the work of a crowded bucket; a record found
        # through several keys is read once, with the list of those keys.
        query = sql.SQL(
            "WITH hits AS ("
            "  SELECT k.key, r.id FROM unnest(%s::bigint[]) AS k(key)"
            "  CROSS JOIN LATERAL ("
            "    SELECT id FROM {table} WHERE bucket_keys @> ARRAY[k.key] LIMIT %s"
            "  ) AS r"
            ")"
            " SELECT t.project_id, t.hash, t.embedding, h.keys"
            " FROM (SELECT id, array_agg(key) AS keys FROM hits GROUP BY id) AS h"
            " JOIN {table} AS t USING (id)"
        ).format(table=self._table)
        by_key: dict[int, list[_Candidate]] = defaultdict(list)
        with conn.cursor() as cursor:
            cursor.execute(query, (sorted(keys), self.candidate_limit))
            for project_id, record_hash, embedding, hit_keys in cursor:
                candidate = _Candidate(
                    project_id, record_hash, Embedding.from_bytes(embedding)
                )
                for key in hit_keys:
                    by_key[key].append(candidate)
        return by_key


_Row = tuple[int, str, str | None, bytes, list[int]]


def _row(record: NewRecord) -> _Row:
    return (
        record.project_id,
        record.hash,
        record.exception_type,
        record.embedding.to_bytes(),
        list(record.keys),
    )


def _nearest(
    record: NewRecord,
    pools: Iterable[Iterable[_Candidate]],
    max_distance: float,
    k: int,
) -> list[Neighbor]:
    """Exact distances from `record` to the candidates; the `k` nearest within range.

    Skips candidates of another project and those with the record's own hash,
    as Seer's query does.
    """
    distances: dict[str, float] = {}
    for pool in pools:
        for candidate in pool:
            if candidate.project_id != record.project_id:
                continue
            if candidate.hash == record.hash or candidate.hash in distances:
                continue
            distances[candidate.hash] = cosine_distance(
                record.embedding, candidate.embedding
            )
    within = sorted(
        (distance, hash)
        for hash, distance in distances.items()
        if distance <= max_distance
    )
    return [Neighbor(hash=hash, distance=distance) for distance, hash in within[:k]]
