-- 0018 trailing marks: a narrow, indexed copy of the mark and stop of every live trailing stop, so that a
-- batch of quotes reads only the trailing stops its prices can move or trigger (sql/schema/46_trailing_marks.sql).
-- The statement triggers that keep it (mbt.sync_trailing_marks) come with the functions; the live trailing
-- stops of now are copied here.
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
    primary key (account_id, order_id),
    foreign key (account_id, order_id) references mbt.orders (account_id, order_id) on delete cascade
);
create index trailing_marks_by_mark on mbt.trailing_marks (symbol, side, hwm);
create index trailing_marks_by_stop on mbt.trailing_marks (symbol, side, stop_price);
comment on table mbt.trailing_marks is $$The mark and stop of each untriggered resting trailing stop, copied from
mbt.orders by its statement triggers, indexed so that a batch of quotes reads only the stops it can move or trigger.$$;
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

insert into mbt.trailing_marks (
    account_id, order_id, symbol, side, hwm, stop_price, trail_price, trail_percent, submitted_at, expires_at
)
select
    o.account_id,
    o.order_id,
    o.symbol,
    o.side,
    o.hwm,
    round(
        o.hwm + case when o.side = 'sell' then -1 else 1 end * coalesce(o.trail_price, o.hwm * o.trail_percent / 100),
        case when o.hwm >= 1 then 2 else 4 end
    ) as stop_price,
    o.trail_price,
    o.trail_percent,
    o.submitted_at,
    o.expires_at
from mbt.orders as o
where
    o.order_type = 'trailing_stop' and o.status in ('new', 'partially_filled', 'accepted')
    and o.stop_triggered_at is null;
