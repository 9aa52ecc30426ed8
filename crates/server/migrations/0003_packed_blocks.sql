-- Transcript blocks are stored packed: `runs` replaces `lines`. It is a JSON array of runs
-- `[first_seq, at_unix_ms, ["line", ...]]`, one per stretch of consecutive `seq` numbers that
-- share a timestamp. The relay rebuilds the SSE `lines` event's `{"seq","at","line"}` objects
-- when it reads a block; storing them cost a third more bytes for 95-character lines, and
-- copying bytes into the WAL and the database file is most of what the store writer does
-- under a flood of output.

DROP VIEW output_log;

CREATE TABLE transcript_runs (
    eid        INTEGER PRIMARY KEY,
    session_id TEXT NOT NULL,
    first_seq  INTEGER NOT NULL,
    last_seq   INTEGER NOT NULL,
    runs       TEXT NOT NULL
) STRICT;

-- Blocks stored so far become one run per line, which reads back the same.
INSERT INTO transcript_runs (eid, session_id, first_seq, last_seq, runs)
SELECT b.eid, b.session_id, b.first_seq, b.last_seq,
       (SELECT json_group_array(json_array(
                   j.value ->> 'seq',
                   CAST(round((julianday(j.value ->> 'at') - 2440587.5) * 86400000.0) AS INTEGER),
                   json_array(j.value ->> 'line'))
               ORDER BY j.key)
        FROM json_each(b.lines) j)
FROM transcript_blocks b;

DROP TABLE transcript_blocks;
ALTER TABLE transcript_runs RENAME TO transcript_blocks;
CREATE INDEX transcript_blocks_session_eid ON transcript_blocks (session_id, eid);
CREATE INDEX transcript_blocks_first_seq ON transcript_blocks (session_id, first_seq);
CREATE INDEX transcript_blocks_last_seq ON transcript_blocks (session_id, last_seq);

-- `output_log` still reads one row per transcript line, with the columns it always had.
CREATE VIEW output_log (session_id, seq, at, line, eid) AS
SELECT b.session_id, (r.value ->> 0) + j.key, r.value ->> 1, j.value, b.eid
FROM transcript_blocks b, json_each(b.runs) r, json_each(r.value, '$[2]') j;
