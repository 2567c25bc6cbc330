-- Cancel an open order (Alpaca's DELETE /v2/orders/{id}): its buying-power hold is released. The
-- other open orders of its bracket, oco or oto group are canceled with it.
create or replace function mbt.cancel_order(p_account_id uuid, p_order_id uuid, p_as_of timestamptz)
returns mbt.orders
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_order mbt.orders;
begin
    perform from mbt.accounts as a where a.account_id = p_account_id for update;
    select * into v_order from mbt.orders as o where o.account_id = p_account_id and o.order_id = p_order_id for update;
    if not found then
        perform mbt.raise_error('MBO14', 'order not found', format('id = %s', p_order_id),
            'List your orders with GET /api/orders.');
    end if;
    if v_order.status not in ('new', 'partially_filled', 'accepted', 'held', 'pending_new') then
        perform mbt.raise_error('MBO15', format('order is not cancelable: it is %s', v_order.status),
            format('id = %s, status = %s', p_order_id, v_order.status), 'Only open orders can be canceled.');
    end if;
    -- canceling any order of a bracket, oco or oto group cancels the rest of it
    perform mbt.cancel_order_row(o, p_as_of)
    from mbt.orders as o
    where o.account_id = p_account_id and o.group_id = v_order.group_id and o.order_id <> p_order_id
        and o.status in ('new', 'partially_filled', 'accepted', 'held', 'pending_new');
    return mbt.cancel_order_row(v_order, p_as_of);
end;
$$;
comment on function mbt.cancel_order(uuid, uuid, timestamptz) is
'Cancel an open order at p_as_of and release its buying-power hold (MBO14 unknown, MBO15 not open).';
