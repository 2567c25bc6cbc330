-- The marks of the live trailing stops (untriggered, resting), one narrow row each: made and removed by
-- statement triggers on mbt.orders (mbt.sync_trailing_marks); while the stop lives, the engine moves its
-- mark here alone (the truth for a live stop), and the order takes the mark when it leaves the book.
-- A batch of quotes reads only the marks its prices can move or trigger (mbt.trailing_marks_in_reach):
-- a sell stop whose hwm is at or above the batch's highest bid and whose stop is under its lowest bid
-- neither moves nor triggers on any of its quotes (a buy stop the same, mirrored), so it is not read.
create table mbt.trailing_marks (
    account_id uuid not null,
    order_id uuid not null,
    symbol text not null,
    side mbt.order_side not null,
    hwm numeric(14, 4),
    stop_price numeric(14, 4),
    trail_price numeric(14, 4),
    trail_percent numeric(7, 4),
    submitted_at timestamptz not null,
    expires_at timestamptz,
    moved_at timestamptz,
    rides boolean not null default false,
    primary key (account_id, order_id),
    foreign key (account_id, order_id) references mbt.orders (account_id, order_id) on delete cascade
);
comment on table mbt.trailing_marks is $$The mark and stop of each untriggered resting trailing stop: the engine moves
them here alone while the stop lives, and the order (mbt.orders.hwm) takes them when it leaves the book. Indexed so that
a batch of quotes reads only the stops it can move or trigger.$$;
comment on column mbt.trailing_marks.account_id is 'Account.';
comment on column mbt.trailing_marks.order_id is 'The trailing stop (mbt.orders).';
comment on column mbt.trailing_marks.symbol is 'Ticker, as on the order.';
comment on column mbt.trailing_marks.side is 'buy or sell, as on the order.';
comment on column mbt.trailing_marks.hwm is 'The order''s mark (sell: highest bid, buy: lowest ask), USD.';
comment on column mbt.trailing_marks.stop_price is 'The stop the mark puts it at (mbt.trailing_stop_price), USD.';
comment on column mbt.trailing_marks.trail_price is 'Trail, USD (null for a percent trail).';
comment on column mbt.trailing_marks.trail_percent is 'Trail, percent (null for a dollar trail).';
comment on column mbt.trailing_marks.submitted_at is 'When the order was submitted.';
comment on column mbt.trailing_marks.expires_at is 'When the order expires (null: never).';
comment on column mbt.trailing_marks.moved_at is 'When the mark last moved (the quote''s time); null: not since submission.';
comment on column mbt.trailing_marks.rides is
'The stop''s mark is its symbol and side''s shared mark (mbt.trailing_extremes.hwm), not hwm and stop_price here, which keep the mark it joined at.';
create index trailing_marks_by_mark on mbt.trailing_marks (symbol, side, hwm) where not rides;
create index trailing_marks_by_stop on mbt.trailing_marks (symbol, side, stop_price) where not rides;
create index trailing_riders_by_trail_price on mbt.trailing_marks (symbol, side, trail_price)
where rides and trail_price is not null;
create index trailing_riders_by_trail_percent on mbt.trailing_marks (symbol, side, trail_percent)
where rides and trail_percent is not null;
create index trailing_riders_by_expiry on mbt.trailing_marks (symbol, side, expires_at) where rides;

-- Riders (mbt.trailing_marks.rides) share their symbol and side's mark here.
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
