-- 0013 order_ref: the orders a fill-engine call is limited to, by primary key (an index lookup per
-- order; by order_id alone the engine scanned every open order).

create type mbt.order_ref as (account_id uuid, order_id uuid);
comment on type mbt.order_ref is 'An order by its primary key, e.g. the orders a fill-engine call is limited to.';
