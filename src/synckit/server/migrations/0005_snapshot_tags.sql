-- SyncKit's PostgreSQL schema, version 5: snapshot tags, and the servers' shared secrets.

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

-- synckit_compact (version 4) writes the tag beside the snapshot: the same function with one
-- more argument (NULL: no tag, as for a snapshot merged with another server's).
DROP FUNCTION synckit_compact(integer, text, bigint[], bytea, bigint);
CREATE FUNCTION synckit_compact(
    lock_class integer, doc text, take bigint[], snap bytea, expected bigint, snap_tag bytea
) RETURNS TABLE (outcome text, before bigint, after bigint, stored bytea)
LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
    held snapshots%ROWTYPE;
    gone bigint;
    written bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(lock_class, hashtext(doc));
    IF EXISTS (SELECT 1 FROM tombstones t WHERE t.doc_id = doc) THEN
        RETURN QUERY SELECT 'dead'::text, 0::bigint, 0::bigint, NULL::bytea;
        RETURN;
    END IF;
    SELECT * INTO held FROM snapshots s WHERE s.doc_id = doc;
    IF FOUND AND (expected IS NULL OR held.generation <> expected) THEN
        RETURN QUERY SELECT 'merge'::text, held.generation, 0::bigint, held.data;
        RETURN;
    END IF;
    WITH removed AS (
        DELETE FROM changes c WHERE c.doc_id = doc AND c.id = ANY(take)
        RETURNING coalesce(cardinality(c.batches), 1) AS n
    )
    SELECT coalesce(sum(n), 0) INTO gone FROM removed;
    INSERT INTO snapshots AS s (doc_id, data, generation, covered, tag)
    VALUES (doc, snap, 1, gone, snap_tag)
    ON CONFLICT (doc_id) DO UPDATE SET
        data = EXCLUDED.data, generation = s.generation + 1,
        covered = s.covered + EXCLUDED.covered, tag = EXCLUDED.tag, updated_at = now()
    RETURNING s.generation INTO written;
    RETURN QUERY SELECT 'done'::text, coalesce(held.generation, 0), written, NULL::bytea;
END
$fn$;
