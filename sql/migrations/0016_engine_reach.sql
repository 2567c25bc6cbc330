-- 0016 engine reach: cheaper lookups of the orders a batch of quotes reaches.
-- * One index range per symbol for the orders a falling price reaches (buy limits, sell stops) and one
--   for those a rising price reaches (sell limits, buy stops), in place of one per kind and side.
-- * Untriggered trailing stops get an index of their own, so the any-price lookup no longer walks them.
-- * A trailing stop's mark moves as a heap-only update: the engine writes hwm alone (the current stop
--   price is derived from it, mbt.order_stop_price) and the orders' pages keep room for new versions.

alter table mbt.orders set (fillfactor = 80);

drop index mbt.orders_resting_limits;
drop index mbt.orders_resting_stops;
create index orders_resting_falls on mbt.orders (symbol, (case when order_type = 'limit' then limit_price else stop_price end))
where status in ('new', 'partially_filled', 'accepted')
and (order_type = 'limit' and side = 'buy' or order_type in ('stop', 'stop_limit') and side = 'sell' and stop_triggered_at is null);
create index orders_resting_rises on mbt.orders (symbol, (case when order_type = 'limit' then limit_price else stop_price end))
where status in ('new', 'partially_filled', 'accepted')
and (order_type = 'limit' and side = 'sell' or order_type in ('stop', 'stop_limit') and side = 'buy' and stop_triggered_at is null);

drop index mbt.orders_resting_any_price;
create index orders_resting_any_price on mbt.orders (symbol)
where status in ('new', 'partially_filled', 'accepted')
and (order_type not in ('limit', 'stop', 'stop_limit', 'trailing_stop') or stop_triggered_at is not null);

create index orders_resting_trailing on mbt.orders (symbol)
where status in ('new', 'partially_filled', 'accepted') and order_type = 'trailing_stop' and stop_triggered_at is null;

comment on column mbt.orders.stop_price is $$Stop (trigger) price, USD. For a trailing stop: the stop at submission
until it triggers, then the stop it triggered at; meanwhile the stop follows hwm (mbt.order_stop_price).$$;
comment on column mbt.orders.hwm is 'High-water mark of a trailing stop (sell: highest bid, buy: lowest ask), USD.';
