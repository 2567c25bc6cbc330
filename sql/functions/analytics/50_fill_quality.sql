-- Fill quality per New York day, symbol and order type: of the orders submitted that day, how many filled,
-- how fast, at what effective spread, and with what price improvement against the arrival midpoint.
-- The per-fill measures are those of analytics.fills, computed here from the tables by id (no pseudonyms are
-- needed for counts, and hashing every row would cost more than the rest).
create view analytics.fill_quality as
with per_order as not materialized (
    select
        (o.submitted_at at time zone 'America/New_York')::date as trading_date,
        o.symbol,
        o.order_type::text as order_type,
        o.status,
        f.fills,
        f.partial_fills,
        f.filled_shares,
        f.notional,
        f.spread_x_shares,
        f.improvement_x_shares,
        f.shares_with_arrival,
        extract(epoch from f.first_fill_at - least(f.first_fill_at, o.submitted_at)) as seconds_to_first_fill
    from mbt.orders as o
    cross join
        lateral (
            select case when o.submitted_bid > 0 and o.submitted_ask > 0 then (o.submitted_bid + o.submitted_ask) / 2 end as arrival_mid
        ) as a
    cross join lateral (
        select
            count(*) as fills,
            count(*) filter (where x.leaves_qty > 0) as partial_fills,
            sum(x.qty) as filled_shares,
            sum(x.qty * x.price) as notional,
            sum(x.qty * 2 * abs(x.price - m.quote_mid) / m.quote_mid * 10000) as spread_x_shares,
            sum(x.qty * case
                when x.side = 'buy' then (a.arrival_mid - x.price) / a.arrival_mid * 10000
                else (x.price - a.arrival_mid) / a.arrival_mid * 10000
            end) as improvement_x_shares,
            sum(x.qty) filter (where a.arrival_mid is not null) as shares_with_arrival,
            min(x.transaction_time) as first_fill_at
        from mbt.fills as x
        cross join lateral (select nullif((x.quote_bid_price + x.quote_ask_price) / 2, 0) as quote_mid) as m
        where x.account_id = o.account_id and x.order_id = o.order_id
    ) as f
)

select
    d.trading_date,
    q.symbol,
    q.order_type,
    q.orders,
    q.orders_filled,
    q.fill_rate,
    q.complete_fill_rate,
    q.fills,
    q.partial_fill_share,
    q.shares_filled,
    q.notional,
    q.effective_spread_bps,
    q.price_improvement_bps,
    q.median_seconds_to_first_fill,
    q.p90_seconds_to_first_fill,
    q.filled_within_60s_share
-- the days first, then one aggregate per day: a filter on trading_date reaches the scan of the orders
-- (it cannot pass through grouping sets over all days)
from (select distinct (o.submitted_at at time zone 'America/New_York')::date as trading_date from mbt.orders as o) as d
cross join lateral (
    select
        coalesce(p.symbol, '*') as symbol,
        coalesce(p.order_type, '*') as order_type,
        count(*) as orders,
        count(*) filter (where p.fills > 0) as orders_filled,
        round(count(*) filter (where p.fills > 0)::numeric / count(*), 4) as fill_rate,
        round(count(*) filter (where p.status = 'filled')::numeric / count(*), 4) as complete_fill_rate,
        sum(p.fills) as fills,
        round(sum(p.partial_fills) / nullif(sum(p.fills), 0), 4) as partial_fill_share,
        coalesce(sum(p.filled_shares), 0) as shares_filled,
        coalesce(sum(p.notional), 0) as notional,
        round(sum(p.spread_x_shares) / nullif(sum(p.filled_shares), 0), 4) as effective_spread_bps,
        round(sum(p.improvement_x_shares) / nullif(sum(p.shares_with_arrival), 0), 4) as price_improvement_bps,
        round(percentile_cont(0.5) within group (order by p.seconds_to_first_fill)::numeric, 3) as median_seconds_to_first_fill,
        round(percentile_cont(0.9) within group (order by p.seconds_to_first_fill)::numeric, 3) as p90_seconds_to_first_fill,
        round(count(*) filter (where p.seconds_to_first_fill <= 60)::numeric / count(*), 4) as filled_within_60s_share
    from per_order as p
    where p.trading_date = d.trading_date
    group by grouping sets ((p.symbol, p.order_type), (p.symbol), (p.order_type), ())
) as q;

comment on view analytics.fill_quality is $$Fill quality of the orders submitted on each New York day, per symbol and order type, and in total:
symbol '*' is all symbols, order_type '*' all types. Spreads and improvement are share-weighted means over the fills of those orders.$$;
comment on column analytics.fill_quality.trading_date is 'The New York date the orders were submitted.';
comment on column analytics.fill_quality.symbol is 'Symbol, or * for all symbols.';
comment on column analytics.fill_quality.order_type is 'market, limit, stop, stop_limit, trailing_stop, or * for all types.';
comment on column analytics.fill_quality.orders is 'Orders submitted, a count (every order row, a bracket''s exits and replacements included).';
comment on column analytics.fill_quality.orders_filled is 'Of them, orders with at least one execution, a count.';
comment on column analytics.fill_quality.fill_rate is 'orders_filled / orders, a fraction (0.25 = a quarter).';
comment on column analytics.fill_quality.complete_fill_rate is 'Orders completely filled (status filled) / orders, a fraction.';
comment on column analytics.fill_quality.fills is 'Executions of those orders, a count.';
comment on column analytics.fill_quality.partial_fill_share is 'Partial fills (quantity left after them) / fills, a fraction; null without fills.';
comment on column analytics.fill_quality.shares_filled is 'Shares executed, shares.';
comment on column analytics.fill_quality.notional is 'Sum of qty x price of the executions, USD.';
comment on column analytics.fill_quality.effective_spread_bps is 'Share-weighted mean effective spread, 2 x |price - quote mid| / quote mid, basis points.';
comment on column analytics.fill_quality.price_improvement_bps is $$Share-weighted mean price improvement against the arrival midpoint, basis points
(buys: arrival mid above the price; negative: slippage); over the fills whose order saw a quote at submission.$$;
comment on column analytics.fill_quality.median_seconds_to_first_fill is 'Median time to first execution (orders that filled; 0 on submission), seconds.';
comment on column analytics.fill_quality.p90_seconds_to_first_fill is '90th percentile of the time to first execution (orders that filled), seconds.';
comment on column analytics.fill_quality.filled_within_60s_share is 'Orders first filled within 60 s of submission / orders, a fraction.';
