-- 0016 engine trailing marks: a trailing stop's mark moves as a heap-only update of its order. The engine
-- writes hwm alone (the current stop price is derived from it, mbt.order_stop_price) and the orders' pages
-- keep room for the new row versions; untriggered trailing stops get an index of their own, so the
-- any-price lookup of every batch no longer walks them.

alter table mbt.orders set (fillfactor = 80);

drop index mbt.orders_resting_any_price;
create index orders_resting_any_price on mbt.orders (symbol)
where status in ('new', 'partially_filled', 'accepted')
and (order_type not in ('limit', 'stop', 'stop_limit', 'trailing_stop') or stop_triggered_at is not null);

create index orders_resting_trailing on mbt.orders (symbol)
where status in ('new', 'partially_filled', 'accepted') and order_type = 'trailing_stop' and stop_triggered_at is null;

comment on column mbt.orders.stop_price is $$Stop (trigger) price, USD. For a trailing stop: the stop at submission
until it triggers, then the stop it triggered at; meanwhile the stop follows hwm (mbt.order_stop_price).$$;
comment on column mbt.orders.hwm is 'High-water mark of a trailing stop (sell: highest bid, buy: lowest ask), USD.';
