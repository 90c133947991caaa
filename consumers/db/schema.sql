-- Schema of the backfill's PostgreSQL database. Every statement is idempotent,
-- so `seer-backfill db migrate` can run on every start.

CREATE TABLE IF NOT EXISTS projects (
    id              bigint PRIMARY KEY,
    organization_id bigint NOT NULL,
    slug            text NOT NULL,
    platform        text,
    options         jsonb NOT NULL DEFAULT '{}'::jsonb
);

CREATE TABLE IF NOT EXISTS groups (
    id          bigserial PRIMARY KEY,
    project_id  bigint NOT NULL REFERENCES projects (id),
    type        smallint NOT NULL DEFAULT 1,
    status      smallint NOT NULL DEFAULT 0,
    times_seen  integer NOT NULL DEFAULT 1,
    first_seen  timestamptz NOT NULL,
    last_seen   timestamptz NOT NULL,
    message     text NOT NULL DEFAULT '',
    data        jsonb NOT NULL DEFAULT '{}'::jsonb
);
-- The batch query walks one project's groups by id, descending.
CREATE INDEX IF NOT EXISTS groups_project_id_id ON groups (project_id, id DESC);

CREATE TABLE IF NOT EXISTS group_hashes (
    project_id bigint NOT NULL,
    hash       char(32) NOT NULL,
    group_id   bigint NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    UNIQUE (project_id, hash)
);
CREATE INDEX IF NOT EXISTS group_hashes_group_id ON group_hashes (group_id);

CREATE TABLE IF NOT EXISTS events (
    project_id bigint NOT NULL,
    event_id   uuid NOT NULL,
    group_id   bigint NOT NULL,
    timestamp  timestamptz NOT NULL,
    PRIMARY KEY (project_id, event_id)
);
CREATE INDEX IF NOT EXISTS events_project_group_timestamp
    ON events (project_id, group_id, timestamp);

-- Node store: id is the md5 hex of "{project_id}:{event_id}", data the
-- zlib-compressed event JSON.
CREATE TABLE IF NOT EXISTS nodestore (
    id        text PRIMARY KEY,
    data      bytea NOT NULL,
    timestamp timestamptz NOT NULL DEFAULT now()
);

-- Operator switches of the backfill. Key 'killswitch' with value true
-- pauses every consumer before it looks up the next batch.
CREATE TABLE IF NOT EXISTS backfill_options (
    key   text PRIMARY KEY,
    value jsonb NOT NULL
);

-- Ledger of processed project-batch messages. One row per batch key
-- (run id, project or worker cohort, cursor, mode). A row in state 'done'
-- means every side effect of that batch is durable: a replayed copy of the
-- message is skipped. A row in state 'pending' is claimed by one message; once
-- the batch's group marks are written it also contains the batch's Seer result,
-- so a retry after a crash reports the same outcome counts.
CREATE TABLE IF NOT EXISTS backfill_ledger (
    batch_key   text PRIMARY KEY,
    run_id      text NOT NULL,
    project_id  bigint,
    cursor      bigint,
    state       text NOT NULL CHECK (state IN ('pending', 'done')),
    outputs     jsonb NOT NULL DEFAULT '{}'::jsonb,
    source      text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS backfill_ledger_run ON backfill_ledger (run_id, project_id);

-- How `seer-backfill schedule` split each project of a run into chains: the
-- group ids where chains start (empty: one chain). Scheduling the run again
-- reuses these points, so new groups or another --chain-groups value cannot
-- publish chains that overlap the ones already running.
CREATE TABLE IF NOT EXISTS backfill_splits (
    run_id        text NOT NULL,
    project_id    bigint NOT NULL,
    chain_groups  integer NOT NULL,
    points        bigint[] NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, project_id)
);
