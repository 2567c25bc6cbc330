-- 0021 trailing riders: the live trailing stops of a symbol and side whose marks have met share one mark,
-- mbt.trailing_extremes, so that a quote that moves them writes one narrow row instead of a row per stop,
-- and a batch reads only the riders it may trigger (sql/schema/46_trailing_marks.sql).
create table mbt.trailing_extremes (
    symbol text not null,
    side mbt.order_side not null,
    hwm numeric(14, 4),
    moved_at timestamptz,
    min_trail_price numeric(14, 4),
    min_trail_percent numeric(7, 4),
    min_expires_at timestamptz,
    primary key (symbol, side)
) with (fillfactor = 50);
comment on table mbt.trailing_extremes is $$The shared mark of the trailing stops that ride it (mbt.trailing_marks.rides),
one row per symbol and side: sell stops ride the highest bid, buy stops the lowest ask, of the regular-session quotes
since they joined. The engine moves it (a heap-only update: nothing on it is indexed but its key); the minima say
which batches may trigger or outlive a rider, so that the others read no rider at all.$$;
comment on column mbt.trailing_extremes.symbol is 'Ticker.';
comment on column mbt.trailing_extremes.side is 'sell: the riders are sell stops (mark: highest bid); buy: buy stops (lowest ask).';
comment on column mbt.trailing_extremes.hwm is 'The riders'' mark, USD; null: no rider (the next stop to join sets it).';
comment on column mbt.trailing_extremes.moved_at is 'When the mark last moved (the quote''s time).';
comment on column mbt.trailing_extremes.min_trail_price is
'At most the smallest dollar trail of the riders, USD (a bound: a rider that leaves does not raise it until the engine next reads the riders).';
comment on column mbt.trailing_extremes.min_trail_percent is 'At most the smallest percent trail of the riders, percent (a bound, as above).';
comment on column mbt.trailing_extremes.min_expires_at is 'At most the earliest expiry of the riders (a bound, as above).';

alter table mbt.trailing_marks add column rides boolean not null default false;
comment on column mbt.trailing_marks.rides is
'The stop''s mark is its symbol and side''s shared mark (mbt.trailing_extremes.hwm), not hwm and stop_price here, which keep the mark it joined at.';
drop index mbt.trailing_marks_by_mark;
drop index mbt.trailing_marks_by_stop;
create index trailing_marks_by_mark on mbt.trailing_marks (symbol, side, hwm) where not rides;
create index trailing_marks_by_stop on mbt.trailing_marks (symbol, side, stop_price) where not rides;
create index trailing_riders_by_trail_price on mbt.trailing_marks (symbol, side, trail_price)
where rides and trail_price is not null;
create index trailing_riders_by_trail_percent on mbt.trailing_marks (symbol, side, trail_percent)
where rides and trail_percent is not null;
create index trailing_riders_by_expiry on mbt.trailing_marks (symbol, side, expires_at) where rides;
