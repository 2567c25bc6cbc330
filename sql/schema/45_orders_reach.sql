-- Indexes of the fill engine: a batch of quotes looks up only the resting orders its prices can
-- reach (limits at or through the quotes, stops the quotes can trigger, and orders that take any
-- price), so its cost follows the orders it hits, not the orders resting.
create index orders_resting_limits on mbt.orders (symbol, side, limit_price)
where status in ('new', 'partially_filled', 'accepted') and order_type = 'limit';

create index orders_resting_stops on mbt.orders (symbol, side, stop_price)
where status in ('new', 'partially_filled', 'accepted') and order_type in ('stop', 'stop_limit')
and stop_triggered_at is null;

create index orders_resting_any_price on mbt.orders (symbol)
where status in ('new', 'partially_filled', 'accepted')
and (order_type not in ('limit', 'stop', 'stop_limit', 'trailing_stop') or stop_triggered_at is not null);

-- untriggered trailing stops: every batch on their symbol may move their marks (a heap-only update of
-- hwm: the orders' pages keep room for it, and no index covers hwm or what the engine writes with it)
create index orders_resting_trailing on mbt.orders (symbol)
where status in ('new', 'partially_filled', 'accepted') and order_type = 'trailing_stop' and stop_triggered_at is null;

alter table mbt.orders set (fillfactor = 80);
