-- The ingestor's bookkeeping: which symbols it streams (so that the order and position triggers
-- notify only about symbols it does not stream yet), and its figures (quotes/s, lag, faults).
-- One ingestor per database.

create table md.ingest_subscriptions (
    symbol text primary key,
    subscribed_at timestamptz not null default now()
);
comment on table md.ingest_subscriptions is
'Symbols the ingestor streams now; inserts into mbt.orders and mbt.positions notify the ingestor only about symbols not listed here.';
comment on column md.ingest_subscriptions.symbol is 'Ticker or OCC option symbol.';
comment on column md.ingest_subscriptions.subscribed_at is 'When the ingestor subscribed to it.';

create table md.ingest_stats (
    ingestor text primary key,
    started_at timestamptz not null,
    updated_at timestamptz not null,
    connected boolean not null,
    symbols integer not null,
    quotes_total bigint not null,
    quotes_per_second numeric(12, 1) not null,
    lag_p50_ms numeric(12, 1),
    lag_max_ms numeric(12, 1),
    last_quote_time timestamptz,
    buffered integer not null,
    reconnects integer not null,
    backfilled bigint not null,
    duplicates_dropped bigint not null,
    malformed bigint not null,
    out_of_order bigint not null,
    crossed bigint not null,
    stopped_at timestamptz
);
comment on table md.ingest_stats is 'The ingestor''s figures, rewritten every few seconds (the same as its log line).';
comment on column md.ingest_stats.ingestor is 'Name of the ingestor process.';
comment on column md.ingest_stats.started_at is 'When it started.';
comment on column md.ingest_stats.updated_at is 'When these figures were written.';
comment on column md.ingest_stats.connected is 'Whether the stock stream was connected.';
comment on column md.ingest_stats.symbols is 'Symbols subscribed (stocks and options).';
comment on column md.ingest_stats.quotes_total is 'Quotes written since it started (streamed and backfilled).';
comment on column md.ingest_stats.quotes_per_second is 'Quotes written per second over the last interval.';
comment on column md.ingest_stats.lag_p50_ms is 'Median of written_at - quote_time over the last interval, ms (arrival plus buffering plus COPY).';
comment on column md.ingest_stats.lag_max_ms is 'Largest written_at - quote_time over the last interval, ms.';
comment on column md.ingest_stats.last_quote_time is 'Newest quote_time written (kept from the previous run until this one writes).';
comment on column md.ingest_stats.buffered is 'Quotes waiting in the buffer when the figures were taken.';
comment on column md.ingest_stats.reconnects is 'Stream reconnections since it started.';
comment on column md.ingest_stats.backfilled is 'Quotes fetched from the historical API after reconnections.';
comment on column md.ingest_stats.duplicates_dropped is 'Exact duplicates dropped (backfill overlapping the stream).';
comment on column md.ingest_stats.malformed is 'Upstream messages or frames that could not be read (logged, skipped).';
comment on column md.ingest_stats.out_of_order is 'Quotes older than the previous quote of their symbol (logged, stored).';
comment on column md.ingest_stats.crossed is 'Crossed quotes, bid above ask (logged, stored; the engine never fills on them).';
comment on column md.ingest_stats.stopped_at is
'When the ingestor stopped cleanly, everything written; null while it runs, and after a crash, when the next start backfills from last_quote_time.';
