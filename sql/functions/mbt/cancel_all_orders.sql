-- Cancel every open order of the account (Alpaca's DELETE /v2/orders): one result per order,
-- {id, status, body} as Alpaca answers it (status 200 and the canceled order).
create or replace function mbt.cancel_all_orders(p_account_id uuid, p_as_of timestamptz)
returns table (id uuid, status integer, body jsonb)
language plpgsql
volatile
security definer
set search_path = ''
as $$
begin
    perform from mbt.accounts as a where a.account_id = p_account_id for update;
    return query
    select c.order_id, 200, mbt.order_json(c)
    from mbt.orders as o
    cross join lateral mbt.cancel_order_row(o, p_as_of) as c
    where o.account_id = p_account_id and o.status in ('new', 'partially_filled', 'accepted', 'held', 'pending_new')
    order by o.created_at, o.order_id;
end;
$$;
comment on function mbt.cancel_all_orders(uuid, timestamptz) is
'Cancel all open orders of an account at p_as_of; one {id, status, body} row per order.';
