-- Replace an open order (Alpaca's PATCH /v2/orders/{id}; alpaca.md 1.9): a new order with a new id,
-- made from the old one and the fields sent (qty, time_in_force, limit_price, stop_price,
-- client_order_id); the old one becomes replaced (replaced_by), the new one carries replaces. The
-- new order goes through every check of a submission, with the old order's hold already released;
-- if it is rejected, nothing changes.
create or replace function mbt.replace_order(p_account_id uuid, p_order_id uuid, p_changes jsonb, p_as_of timestamptz)
returns mbt.orders
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    c_fields constant text[] := array['qty', 'time_in_force', 'limit_price', 'stop_price', 'client_order_id'];
    v_field text;
    v_old mbt.orders;
    v_new mbt.orders;
begin
    if jsonb_typeof(p_changes) is distinct from 'object' then
        perform mbt.raise_error('MBV03', 'The changes must be a JSON object.', null, 'E.g. {"limit_price": "101.50"}.');
    end if;
    select k into v_field from jsonb_object_keys(p_changes) as k where k <> all(c_fields) limit 1;
    if v_field is not null then
        perform mbt.raise_error('MBV05', format('Unknown field ''%s''.', v_field), null,
            format('A replace takes: %s.', array_to_string(c_fields, ', ')));
    end if;
    perform from mbt.accounts as a where a.account_id = p_account_id for update;
    select * into v_old from mbt.orders as o where o.account_id = p_account_id and o.order_id = p_order_id for update;
    if not found then
        perform mbt.raise_error('MBO14', 'order not found', format('id = %s', p_order_id),
            'List your orders with GET /api/orders.');
    end if;
    if v_old.status not in ('new', 'partially_filled', 'accepted') or v_old.notional is not null then
        perform mbt.raise_error('MBO15', format('order is not replaceable: it is %s%s', v_old.status,
            case when v_old.notional is not null then ', a notional order' else '' end),
            format('id = %s', p_order_id), 'Cancel it and submit a new order instead.');
    end if;

    update mbt.orders as o
    set status = 'replaced', replaced_at = p_as_of, updated_at = p_as_of, buying_power_held = 0
    where o.account_id = p_account_id and o.order_id = p_order_id;

    v_new := mbt.submit_order(p_account_id, jsonb_strip_nulls(jsonb_build_object(
        'symbol', v_old.symbol,
        'qty', coalesce(p_changes -> 'qty', to_jsonb(v_old.qty - v_old.filled_qty)),
        'side', v_old.side,
        'type', v_old.order_type,
        'time_in_force', coalesce(p_changes ->> 'time_in_force', v_old.time_in_force::text),
        'limit_price', coalesce(p_changes -> 'limit_price', to_jsonb(v_old.limit_price)),
        'stop_price', coalesce(p_changes -> 'stop_price', to_jsonb(v_old.stop_price)),
        'extended_hours', v_old.extended_hours,
        'client_order_id', coalesce(p_changes ->> 'client_order_id', v_old.client_order_id)
    )), p_as_of);

    update mbt.orders as o set replaces = p_order_id
    where o.account_id = p_account_id and o.order_id = v_new.order_id
    returning * into v_new;
    update mbt.orders as o set replaced_by = v_new.order_id
    where o.account_id = p_account_id and o.order_id = p_order_id
    returning * into v_old;
    insert into mbt.order_events (account_id, order_id, event, event_at, order_state)
    values (p_account_id, p_order_id, 'replaced', p_as_of, mbt.order_json(v_old));
    perform mbt.publish_trade_updates(array[mbt.trade_update('replaced', mbt.order_json(v_old), p_account_id, p_as_of)]);
    return v_new;
end;
$$;
comment on function mbt.replace_order(uuid, uuid, jsonb, timestamptz) is
'Replace an open order by a new one (new id; replaces / replaced_by); the new order passes every submission check.';
