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
    primary key (account_id, order_id),
    foreign key (account_id, order_id) references mbt.orders (account_id, order_id) on delete cascade
);
create index trailing_marks_by_mark on mbt.trailing_marks (symbol, side, hwm);
create index trailing_marks_by_stop on mbt.trailing_marks (symbol, side, stop_price);
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
