-- Orders for analysts, with their lifecycle durations (submitted -> first fill -> filled / canceled / expired)
-- and the NBBO the submission saw (the arrival quote, mbt.orders.submitted_bid/ask/quote_time).
create view analytics.orders as
select
    encode(substr(sha256(k.secret || uuid_send(o.order_id)), 1, 16), 'hex') as order_key,
    encode(substr(sha256(k.secret || uuid_send(o.account_id)), 1, 16), 'hex') as account_key,
    o.symbol,
    o.asset_class::text as asset_class,
    o.side::text as side,
    o.order_type::text as order_type,
    o.time_in_force::text as time_in_force,
    o.order_class::text as order_class,
    o.leg::text as leg,
    o.extended_hours,
    o.status::text as status,
    o.qty,
    o.notional,
    o.limit_price,
    coalesce(
        mbt.trailing_stop_price(o.side, sm.hwm, o.trail_price, o.trail_percent), m.stop_price, mbt.order_stop_price(o)
    ) as stop_price,
    o.filled_qty,
    o.filled_avg_price,
    o.filled_qty / o.qty as filled_share,
    o.submitted_at,
    (o.submitted_at at time zone 'America/New_York')::date as trading_date,
    o.submitted_bid as arrival_bid,
    o.submitted_ask as arrival_ask,
    case when o.submitted_bid > 0 and o.submitted_ask > 0 then (o.submitted_bid + o.submitted_ask) / 2 end as arrival_mid,
    o.submitted_quote_time as arrival_quote_time,
    coalesce(f.fills, 0) as fills,
    f.first_fill_at,
    f.last_fill_at,
    o.filled_at,
    o.canceled_at,
    o.expired_at,
    o.replaced_at,
    o.failed_at as rejected_at,
    e.ended_at,
    extract(epoch from f.first_fill_at - least(f.first_fill_at, o.submitted_at)) as seconds_to_first_fill,
    extract(epoch from o.filled_at - least(o.filled_at, o.submitted_at)) as seconds_to_filled,
    extract(epoch from e.ended_at - least(e.ended_at, o.submitted_at)) as seconds_to_end
from mbt.orders as o
cross join analytics.pseudonym_secret as k
left join lateral (
    select
        count(*) as fills,
        min(x.transaction_time) as first_fill_at,
        max(x.transaction_time) as last_fill_at
    from mbt.fills as x
    where x.account_id = o.account_id and x.order_id = o.order_id
) as f on true
-- a live trailing stop's stop as it stands (the engine moves it on its mark row alone)
-- (a rider's: its symbol and side's shared mark)
left join mbt.trailing_marks as m
    on o.order_type = 'trailing_stop' and o.account_id = m.account_id and o.order_id = m.order_id
left join mbt.trailing_extremes as sm on m.rides and m.symbol = sm.symbol and m.side = sm.side
cross join lateral (
    select coalesce(o.filled_at, o.canceled_at, o.expired_at, o.replaced_at, o.failed_at) as ended_at
) as e;

comment on view analytics.orders is $$One row per order (every order row: a replacement is a new order, a bracket's exits are orders of their own),
with its lifecycle durations and the NBBO at submission (the arrival quote). Keys are pseudonymous.$$;
comment on column analytics.orders.order_key is 'Pseudonymous order key (32 hex digits); analytics.fills.order_key refers to it.';
comment on column analytics.orders.account_key is 'Pseudonymous account key (analytics.accounts).';
comment on column analytics.orders.symbol is 'Ticker or OCC symbol.';
comment on column analytics.orders.asset_class is 'us_equity or us_option.';
comment on column analytics.orders.side is 'buy or sell.';
comment on column analytics.orders.order_type is 'market, limit, stop, stop_limit or trailing_stop.';
comment on column analytics.orders.time_in_force is 'day, gtc, opg, cls, ioc or fok.';
comment on column analytics.orders.order_class is 'simple, bracket, oco, oto or mleg.';
comment on column analytics.orders.leg is 'entry, take_profit or stop_loss for the orders of a group; null for a simple order.';
comment on column analytics.orders.extended_hours is 'May fill outside regular hours (boolean).';
comment on column analytics.orders.status is 'Alpaca order status now (new, partially_filled, filled, canceled, expired, replaced, rejected, held, ...).';
comment on column analytics.orders.qty is 'Ordered quantity, shares; null for notional orders.';
comment on column analytics.orders.notional is 'Ordered amount, USD; null for qty orders.';
comment on column analytics.orders.limit_price is 'Limit price, USD.';
comment on column analytics.orders.stop_price is 'Stop (trigger) price, USD; an untriggered trailing stop''s as it stands now.';
comment on column analytics.orders.filled_qty is 'Quantity filled so far, shares.';
comment on column analytics.orders.filled_avg_price is 'Volume-weighted average fill price, USD.';
comment on column analytics.orders.filled_share is 'filled_qty / qty, a fraction from 0 to 1; null for notional orders.';
comment on column analytics.orders.submitted_at is 'When it was submitted, timestamptz.';
comment on column analytics.orders.trading_date is 'The New York date of the submission.';
comment on column analytics.orders.arrival_bid is 'NBBO bid at submission (the latest quote the submission saw), USD; null if there was none.';
comment on column analytics.orders.arrival_ask is 'NBBO ask at submission, USD; null if there was none.';
comment on column analytics.orders.arrival_mid is 'NBBO midpoint at submission, (arrival_bid + arrival_ask) / 2, USD: the benchmark of price improvement.';
comment on column analytics.orders.arrival_quote_time is 'Exchange time of the arrival quote, timestamptz.';
comment on column analytics.orders.fills is 'Executions of the order, a count.';
comment on column analytics.orders.first_fill_at is $$Time of its first execution (the quote's time: for a fill on submission, before submitted_at),
timestamptz; null if none.$$;
comment on column analytics.orders.last_fill_at is 'Time of its last execution, timestamptz; null if none.';
comment on column analytics.orders.filled_at is 'When it was completely filled, timestamptz.';
comment on column analytics.orders.canceled_at is 'When it was canceled, timestamptz.';
comment on column analytics.orders.expired_at is 'When it expired, timestamptz.';
comment on column analytics.orders.replaced_at is 'When it was replaced, timestamptz.';
comment on column analytics.orders.rejected_at is 'When it was rejected, timestamptz.';
comment on column analytics.orders.ended_at is 'When it stopped working: filled, canceled, expired, replaced or rejected, timestamptz; null while open.';
comment on column analytics.orders.seconds_to_first_fill is $$first_fill_at - submitted_at, seconds; null without a fill.
A fill on submission against the latest quote (whose time precedes the submission) counts 0 s.$$;
comment on column analytics.orders.seconds_to_filled is 'filled_at - submitted_at (completely filled; 0 on submission), seconds; null unless filled.';
comment on column analytics.orders.seconds_to_end is 'ended_at - submitted_at (0 for a fill on submission), seconds; null while open.';
