-- An order in the shape of Alpaca's Order object (numbers as decimal strings, as Alpaca sends them), as it
-- stands (a live trailing stop with its mark: mbt.order_as_it_stands). PL/pgSQL, not SQL: a SQL function
-- that reads from a function is not inlined, and its body is parsed and planned again on every statement
-- that calls it (about 0.25 ms of every submission, twice); here it is one expression, planned once per
-- connection.
create or replace function mbt.order_json(p_order mbt.orders)
returns jsonb
language plpgsql
stable
as $$
declare
    o mbt.orders := mbt.order_as_it_stands(p_order);
begin
    return jsonb_build_object(
        'id', o.order_id,
        'client_order_id', o.client_order_id,
        'created_at', o.created_at,
        'updated_at', o.updated_at,
        'submitted_at', o.submitted_at,
        'filled_at', o.filled_at,
        'expired_at', o.expired_at,
        'canceled_at', o.canceled_at,
        'failed_at', o.failed_at,
        'replaced_at', o.replaced_at,
        'replaced_by', o.replaced_by,
        'replaces', o.replaces,
        'expires_at', o.expires_at,
        'asset_id', o.asset_id,
        'symbol', o.symbol,
        'asset_class', o.asset_class,
        'notional', trim_scale(o.notional)::text,
        'qty', trim_scale(o.qty)::text,
        'filled_qty', trim_scale(o.filled_qty)::text,
        'filled_avg_price', trim_scale(o.filled_avg_price)::text,
        'order_class', o.order_class,
        'order_type', o.order_type,
        'type', o.order_type,
        'side', o.side,
        'position_intent', o.position_intent,
        'time_in_force', o.time_in_force,
        'limit_price', trim_scale(o.limit_price)::text,
        'stop_price', trim_scale(mbt.order_stop_price(o))::text,
        'trail_price', trim_scale(o.trail_price)::text,
        'trail_percent', trim_scale(o.trail_percent)::text,
        'hwm', trim_scale(o.hwm)::text,
        'status', o.status,
        'extended_hours', o.extended_hours,
        'legs', null
    );
end;
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
