-- SyncKit's PostgreSQL schema, version 1.

-- Per document, an append-only log of change batches (protobuf bytes), in id order. A server
-- appends here on every commit, and deletes only the entries it folded into a snapshot, by id.
CREATE TABLE changes (
    id bigserial PRIMARY KEY,
    doc_id text NOT NULL,
    data bytea NOT NULL
);
CREATE INDEX changes_by_doc ON changes (doc_id, id);

-- Per document, the latest snapshot. It holds everything the log entries deleted by
-- compactions held. generation counts the snapshots written (a server that last saw another
-- generation merges the stored one into its own); covered counts the log entries folded in.
CREATE TABLE snapshots (
    doc_id text PRIMARY KEY,
    data bytea NOT NULL,
    generation bigint NOT NULL,
    covered bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Which principal each client (actor) id belongs to: the first to say Hello with it.
CREATE TABLE actors (
    actor_id text PRIMARY KEY,
    principal text NOT NULL,
    claimed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX actors_by_principal ON actors (principal);

-- Server-side grants per principal (JSON text of {pattern: level}).
CREATE TABLE access_rules (
    principal text PRIMARY KEY,
    docs text NOT NULL
);

-- Each document's JSON view as of its last commit, for SQL queries over the data.
CREATE TABLE views (
    doc_id text PRIMARY KEY,
    view jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
