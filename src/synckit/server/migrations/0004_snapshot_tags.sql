-- SyncKit's PostgreSQL schema, version 4: snapshot tags, and the servers' shared secrets.

-- Beside each snapshot, the tag a server wrote with it: the HMAC-SHA256 of the snapshot's
-- bytes under the servers' snapshot key (synckit.core.SnapshotKey). A snapshot whose tag
-- verifies loads without the checks only a hostile author needs; NULL (every snapshot
-- written before this version) or a tag that does not verify means every check runs.
ALTER TABLE snapshots ADD COLUMN tag bytea;

-- Secrets the servers of one database share when none is configured: 'snapshot_key', made at
-- random by the first server that needs it (INSERT ... ON CONFLICT DO NOTHING, then read).
-- Whoever can write the snapshots table and read this one can make bytes load with fewer
-- checks: configure the key (synckit serve --snapshot-key-file) to keep it out of the
-- database.
CREATE TABLE server_secrets (
    name text PRIMARY KEY,
    value bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
