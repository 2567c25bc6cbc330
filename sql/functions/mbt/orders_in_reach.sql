-- The resting orders of a symbol that quotes within the given prices can fill or trigger: limits at
-- or through the quotes, untriggered stops the quotes reach, and orders that take any price (market
-- orders, triggered stops); untriggered trailing stops apart (mbt.trailing_marks_in_reach, on their
-- mark rows). One index range each (the orders_resting_* partial indexes), so
-- the cost follows the orders reached, not the orders resting. An SQL function that the planner
-- inlines: the fill engine's lateral lookups and the quote trigger's EXISTS use it as written here.
drop function if exists mbt.orders_in_reach(text, numeric, numeric, numeric, numeric, boolean);
create or replace function mbt.orders_in_reach(
    p_symbol text, p_min_ask numeric, p_max_ask numeric, p_min_bid numeric, p_max_bid numeric
)
returns setof mbt.orders
language sql
stable
as $$
    -- what a falling price reaches: buy limits the ask comes down to, sell stops the bid comes down to
    select o.* from mbt.orders as o
    where o.symbol = p_symbol and o.status in ('new', 'partially_filled', 'accepted')
        and (o.order_type = 'limit' and o.side = 'buy'
            or o.order_type in ('stop', 'stop_limit') and o.side = 'sell' and o.stop_triggered_at is null)
        and case when o.order_type = 'limit' then o.limit_price else o.stop_price end >= least(p_min_ask, p_min_bid)
        and case when o.order_type = 'limit' then o.limit_price >= p_min_ask else o.stop_price >= p_min_bid end
    union all
    -- what a rising price reaches: sell limits the bid comes up to, buy stops the ask comes up to
    select o.* from mbt.orders as o
    where o.symbol = p_symbol and o.status in ('new', 'partially_filled', 'accepted')
        and (o.order_type = 'limit' and o.side = 'sell'
            or o.order_type in ('stop', 'stop_limit') and o.side = 'buy' and o.stop_triggered_at is null)
        and case when o.order_type = 'limit' then o.limit_price else o.stop_price end <= greatest(p_max_ask, p_max_bid)
        and case when o.order_type = 'limit' then o.limit_price <= p_max_bid else o.stop_price <= p_max_ask end
    union all
    select o.* from mbt.orders as o
    where o.symbol = p_symbol and o.status in ('new', 'partially_filled', 'accepted')
        and (o.order_type not in ('limit', 'stop', 'stop_limit', 'trailing_stop') or o.stop_triggered_at is not null)
$$;
comment on function mbt.orders_in_reach(text, numeric, numeric, numeric, numeric) is $$The resting orders of
a symbol that quotes with asks in [p_min_ask, p_max_ask] and bids in [p_min_bid, p_max_bid] (USD) can fill or trigger
(untriggered trailing stops apart: mbt.trailing_marks_in_reach).$$;
