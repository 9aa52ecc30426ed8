-- Transcript lines are stored in blocks: one row per run of lines that arrived in one `events`
-- frame, instead of one row (and one index entry) per line. A fast-scrolling session writes a
-- few rows a second rather than tens of thousands.
--
-- `lines` is the JSON array of `{"seq","at","line"}` objects exactly as the SSE `lines` event
-- sends it, so publishing, storing and replaying share one string. `eid` is the relay-wide feed
-- event id of that `lines` event (one per block); `first_seq` / `last_seq` bound the block's
-- `seq` numbers, which only grow within a session, as `eid` does.
CREATE TABLE transcript_blocks (
    eid        INTEGER PRIMARY KEY,
    session_id TEXT NOT NULL,
    first_seq  INTEGER NOT NULL,
    last_seq   INTEGER NOT NULL,
    lines      TEXT NOT NULL
) STRICT;
CREATE INDEX transcript_blocks_session_eid ON transcript_blocks (session_id, eid);
CREATE INDEX transcript_blocks_first_seq ON transcript_blocks (session_id, first_seq);
CREATE INDEX transcript_blocks_last_seq ON transcript_blocks (session_id, last_seq);

-- Lines stored one per row so far become blocks of one line each, under their own eid, so a
-- phone resuming after any id it was sent still gets exactly what followed.
INSERT INTO transcript_blocks (eid, session_id, first_seq, last_seq, lines)
SELECT eid, session_id, seq, seq,
       json_array(json_object(
           'seq', seq,
           'at', strftime('%Y-%m-%dT%H:%M:%fZ', at / 1000.0, 'unixepoch'),
           'line', line))
FROM output_log;

DROP TABLE output_log;

-- `output_log` stays readable as one row per transcript line, with the columns it had (`at` in
-- unix milliseconds), for whoever inspects the database with SQL.
CREATE VIEW output_log (session_id, seq, at, line, eid) AS
SELECT b.session_id,
       j.value ->> 'seq',
       CAST(round((julianday(j.value ->> 'at') - 2440587.5) * 86400000.0) AS INTEGER),
       j.value ->> 'line',
       b.eid
FROM transcript_blocks b, json_each(b.lines) j;
