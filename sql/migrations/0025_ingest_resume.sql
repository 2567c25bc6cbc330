-- 0025 ingest resume: a clean stop of the ingestor is recorded, so that a start after a crash knows to
-- backfill from the newest quote the dead run wrote (ingest/service.py; sql/schema/36_ingest.sql).
alter table md.ingest_stats add column stopped_at timestamptz;
comment on column md.ingest_stats.stopped_at is
'When the ingestor stopped cleanly, everything written; null while it runs, and after a crash, when the next start backfills from last_quote_time.';
comment on column md.ingest_stats.last_quote_time is 'Newest quote_time written (kept from the previous run until this one writes).';
