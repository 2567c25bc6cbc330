-- POST /api/rpc/close_position and POST /api/rpc/close_all_positions: Alpaca's DELETE /v2/positions/{symbol}
-- and DELETE /v2/positions, as market orders through the same submission as any order.
create function api.close_position(symbol text, qty text default null, percentage text default null)
returns jsonb
language sql
volatile
security definer
set search_path = ''
as $$
    select mbt.order_json(mbt.close_position(mbt.current_account_id(), $1, $2, $3, now()))
$$;
comment on function api.close_position(text, text, text) is $$Close a position
Body {"symbol": "<symbol or asset id>", "qty": "<shares>" | "percentage": "<0-100>"}: neither closes all of it. Submits a market day order on the other side and returns it.$$;

create function api.close_all_positions(cancel_orders text default 'false')
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
begin
    if lower(coalesce(btrim(cancel_orders), 'false')) not in ('true', 'false') then
        perform mbt.raise_error('MBL05', format('cancel_orders must be true or false, not %s.', cancel_orders),
            format('cancel_orders = %s', cancel_orders), 'Send "cancel_orders": true to cancel open orders first.');
    end if;
    -- one result per symbol, each with its own status: 207 Multi-Status, as Alpaca answers
    perform set_config('response.status', '207', true);
    return mbt.close_all_positions(mbt.current_account_id(), lower(btrim(cancel_orders))::boolean, now());
end;
$$;
comment on function api.close_all_positions(text) is $$Close all positions
Body {"cancel_orders": true} cancels your open orders first. Answers 207 with one {symbol, status, order_id, body} per position: the order, or why that one could not be closed.$$;
