-- Cancel an order row: status canceled, its buying-power hold released, an audit row and a trade
-- update. Used by cancel requests, and for what an ioc or fok order did not fill at submission.
create or replace function mbt.cancel_order_row(p_order mbt.orders, p_as_of timestamptz)
returns mbt.orders
language plpgsql
volatile
set search_path = ''
as $$
declare
    v_order mbt.orders;
begin
    update mbt.orders as o
    set status = 'canceled', canceled_at = p_as_of, updated_at = p_as_of, buying_power_held = 0
    where o.account_id = p_order.account_id and o.order_id = p_order.order_id
    returning * into v_order;
    insert into mbt.order_events (account_id, order_id, event, event_at, order_state)
    values (v_order.account_id, v_order.order_id, 'canceled', p_as_of, mbt.order_json(v_order));
    perform mbt.publish_trade_updates(array[
        mbt.trade_update('canceled', mbt.order_json(v_order), v_order.account_id, p_as_of)
    ]);
    return v_order;
end;
$$;
comment on function mbt.cancel_order_row(mbt.orders, timestamptz) is
'Cancel an order (hold released, audit row and trade update): for cancel requests and unfilled ioc/fok orders.';
