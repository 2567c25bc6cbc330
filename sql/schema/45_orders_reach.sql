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
and (order_type not in ('limit', 'stop', 'stop_limit') or stop_triggered_at is not null);
