-- The ingestor (role mbt_jobs): what it needs beyond the quote store's COPY (00_privileges.sql).
grant usage on schema mbt to mbt_jobs;
grant usage on sequence md.quote_id_seq to mbt_jobs;
grant execute on function
mbt.ingest_wanted_symbols(text[]),
mbt.ingest_set_subscriptions(text[]),
md.ingest_insert_new_quotes(
    text[], numeric[], numeric[], numeric[], numeric[], text[], text[], text[], text[], timestamptz[], timestamptz[]
),
md.ingest_load_assets(jsonb),
md.ingest_load_option_contracts(jsonb),
md.ingest_upsert_bars(text[], timestamptz[], numeric[], numeric[], numeric[], numeric[], numeric[], integer[], numeric[])
to mbt_jobs;
grant select, insert, update on md.ingest_stats to mbt_jobs;
