-- SyncKit's PostgreSQL schema, version 4: a commit, and a compaction, in one round trip each.

-- synckit_append writes what one commit of a server stores, and is called as one statement
-- (its own transaction), so a commit costs one round trip instead of three (BEGIN and the
-- locks; the writes; COMMIT). It takes the append locks of the documents (keys, sorted by
-- the caller: one order everywhere, no deadlock), held until the statement's transaction
-- commits, so a document's log ids still commit in ascending order. Only then does it read
-- the tombstones and write: a plpgsql function's statements each take a new snapshot, so a
-- deletion that committed while this waited for its lock is seen, and nothing is stored for
-- that document. It writes one log row per document (its batches in order: one in data,
-- several in batches, as version 2 describes) and the views of the documents not deleted,
-- and returns the rows written, then one row per deleted document (dead).
CREATE FUNCTION synckit_append(
    keys bigint[], docs text[], batch_docs text[], batch_data bytea[],
    view_docs text[], view_texts text[]
) RETURNS TABLE (id bigint, doc_id text, count integer, dead boolean)
LANGUAGE plpgsql VOLATILE AS $fn$
#variable_conflict use_column
BEGIN
    PERFORM pg_advisory_xact_lock(k) FROM unnest(keys) AS k;
    RETURN QUERY
    WITH gone AS (SELECT t.doc_id FROM tombstones t WHERE t.doc_id = ANY(docs)),
    viewed AS (
        INSERT INTO views (doc_id, view)
        SELECT d, v::jsonb FROM unnest(view_docs, view_texts) AS u(d, v)
        WHERE d NOT IN (SELECT g.doc_id FROM gone g)
        ON CONFLICT (doc_id) DO UPDATE SET view = EXCLUDED.view, updated_at = now()
    ),
    added AS (
        INSERT INTO changes (doc_id, data, batches)
        SELECT d, CASE WHEN count(*) = 1 THEN (array_agg(c))[1] END,
            CASE WHEN count(*) > 1 THEN array_agg(c ORDER BY n) END
        FROM unnest(batch_docs, batch_data) WITH ORDINALITY AS u(d, c, n)
        WHERE d NOT IN (SELECT g.doc_id FROM gone g)
        GROUP BY d ORDER BY min(n)
        RETURNING changes.id, changes.doc_id, coalesce(cardinality(changes.batches), 1) AS n
    )
    SELECT a.id, a.doc_id, a.n::integer, false FROM added a
    UNION ALL SELECT 0::bigint, g.doc_id, 0, true FROM gone g;
END
$fn$;

-- synckit_compact replaces a document's snapshot and deletes the log rows it covers (take:
-- their ids), in one statement, one round trip instead of seven. Under the document's
-- compaction lock (lock_class, hashtext(doc), as a deletion takes it too) it reads the
-- tombstone and the stored snapshot: for a deleted document it writes nothing and answers
-- 'dead'; when a snapshot is stored whose generation is not expected (NULL: any stored one),
-- it writes nothing and answers 'merge' with that snapshot, for the caller to merge into its
-- own and call again expecting that generation; otherwise it deletes the rows, writes the
-- snapshot (covered grows by the batches of the rows deleted) and answers 'done'. before is
-- the generation stored when it looked (0: none), after the one it wrote.
CREATE FUNCTION synckit_compact(
    lock_class integer, doc text, take bigint[], snap bytea, expected bigint
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
    INSERT INTO snapshots AS s (doc_id, data, generation, covered)
    VALUES (doc, snap, 1, gone)
    ON CONFLICT (doc_id) DO UPDATE SET
        data = EXCLUDED.data, generation = s.generation + 1,
        covered = s.covered + EXCLUDED.covered, updated_at = now()
    RETURNING s.generation INTO written;
    RETURN QUERY SELECT 'done'::text, coalesce(held.generation, 0), written, NULL::bytea;
END
$fn$;
