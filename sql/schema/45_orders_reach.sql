-- Indexes of the fill engine: a batch of quotes looks up only the resting orders its prices can
-- reach (mbt.orders_in_reach), so its cost follows the orders it hits, not the orders resting. Two
-- indexes for the orders a price reaches: a falling one reaches buy limits (ask at or under the
-- limit) and sell stops (bid at or under the stop), a rising one sell limits and buy stops; each is
-- keyed on the price that matters, so one index range per symbol finds both kinds.
create index orders_resting_falls on mbt.orders (symbol, (case when order_type = 'limit' then limit_price else stop_price end))
where status in ('new', 'partially_filled', 'accepted')
and (order_type = 'limit' and side = 'buy' or order_type in ('stop', 'stop_limit') and side = 'sell' and stop_triggered_at is null);

create index orders_resting_rises on mbt.orders (symbol, (case when order_type = 'limit' then limit_price else stop_price end))
where status in ('new', 'partially_filled', 'accepted')
and (order_type = 'limit' and side = 'sell' or order_type in ('stop', 'stop_limit') and side = 'buy' and stop_triggered_at is null);

create index orders_resting_any_price on mbt.orders (symbol)
where status in ('new', 'partially_filled', 'accepted')
and (order_type not in ('limit', 'stop', 'stop_limit', 'trailing_stop') or stop_triggered_at is not null);

alter table mbt.orders set (fillfactor = 80);
