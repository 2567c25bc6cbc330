-- An order in the shape of Alpaca's Order object (numbers as decimal strings, as Alpaca sends them).
create or replace function mbt.order_json(p_order mbt.orders)
returns jsonb
language sql
stable
as $$
    select jsonb_build_object(
        'id', p_order.order_id,
        'client_order_id', p_order.client_order_id,
        'created_at', p_order.created_at,
        'updated_at', p_order.updated_at,
        'submitted_at', p_order.submitted_at,
        'filled_at', p_order.filled_at,
        'expired_at', p_order.expired_at,
        'canceled_at', p_order.canceled_at,
        'failed_at', p_order.failed_at,
        'replaced_at', p_order.replaced_at,
        'replaced_by', p_order.replaced_by,
        'replaces', p_order.replaces,
        'expires_at', p_order.expires_at,
        'asset_id', p_order.asset_id,
        'symbol', p_order.symbol,
        'asset_class', p_order.asset_class,
        'notional', trim_scale(p_order.notional)::text,
        'qty', trim_scale(p_order.qty)::text,
        'filled_qty', trim_scale(p_order.filled_qty)::text,
        'filled_avg_price', trim_scale(p_order.filled_avg_price)::text,
        'order_class', p_order.order_class,
        'order_type', p_order.order_type,
        'type', p_order.order_type,
        'side', p_order.side,
        'position_intent', p_order.position_intent,
        'time_in_force', p_order.time_in_force,
        'limit_price', trim_scale(p_order.limit_price)::text,
        'stop_price', trim_scale(mbt.order_stop_price(p_order))::text,
        'trail_price', trim_scale(p_order.trail_price)::text,
        'trail_percent', trim_scale(p_order.trail_percent)::text,
        'hwm', trim_scale(p_order.hwm)::text,
        'status', p_order.status,
        'extended_hours', p_order.extended_hours,
        'legs', null
    )
$$;
comment on function mbt.order_json(mbt.orders) is 'The order as Alpaca''s Order JSON object (decimal strings for numbers).';

-- The same with the order's legs under it (Alpaca's nested form): a bracket's or oto's exits under
-- the entry, an oco's stop-loss under its take-profit. Volatile, so that it sees legs written by the
-- statement that calls it (a submission answered with its legs). PL/pgSQL, not SQL: it is not
-- inlinable (a subquery), and a SQL function's body is parsed and planned again on every call (0.3 ms
-- of a submission's planning); PL/pgSQL keeps its plans for the connection.
create or replace function mbt.order_json_nested(p_order mbt.orders)
returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
begin
    if p_order.group_id is null then
        return mbt.order_json(p_order);  -- legs null
    end if;
    return mbt.order_json(p_order) || jsonb_build_object('legs', (
        select jsonb_agg(mbt.order_json(l) order by l.leg, l.created_at)
        from mbt.orders as l
        where l.account_id = p_order.account_id and l.group_id = p_order.group_id
            and l.parent_order_id = p_order.order_id
    ));
end;
$$;
comment on function mbt.order_json_nested(mbt.orders) is
'The order as Alpaca''s Order JSON with its legs nested under it (legs null for orders without legs).';
