-- Close positions (Alpaca's DELETE /v2/positions/{symbol_or_asset_id} and DELETE /v2/positions,
-- alpaca.md 1.1): a market day order on the other side, submitted through mbt.submit_order with all its
-- checks, for the whole position, a qty, or a percentage of it. Alpaca's rules: qty and percentage
-- exclude each other; percentage is over 0 and at most 100 and sells fractions only if the position
-- is fractional (whole shares are rounded down); what open orders on the closing side already hold
-- cannot be closed again (403 insufficient qty, with available / existing_qty / held_for_orders).
create or replace function mbt.close_position(
    p_account_id uuid,
    p_symbol_or_asset_id text,
    p_qty text,
    p_percentage text,
    p_as_of timestamptz
)
returns mbt.orders
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    -- (upper-cased in the C collation: ASCII only; a Unicode upper() folds e.g. 'ſpy' to 'SPY')
    v_key text := upper(btrim(coalesce(p_symbol_or_asset_id, '')) collate "C");
    v_position mbt.positions;
    v_held numeric;
    v_available numeric;
    v_qty numeric;
    v_percentage numeric;
    v_close numeric;
begin
    perform from mbt.accounts as a where a.account_id = p_account_id for update;
    select * into v_position
    from mbt.positions as p
    where p.account_id = p_account_id and p.qty <> 0
        and (p.symbol = v_key or p.asset_id::text = lower(v_key));
    if not found then
        perform mbt.raise_error('MBL04', 'position does not exist', format('symbol_or_asset_id = %s', p_symbol_or_asset_id),
            'List your open positions with GET /api/positions.');
    end if;

    if nullif(btrim(p_qty), '') is not null and nullif(btrim(p_percentage), '') is not null then
        perform mbt.raise_error('MBL05', 'Give qty or percentage, not both.',
            format('qty = %s, percentage = %s', p_qty, p_percentage), 'Leave both out to close the whole position.');
    end if;
    v_qty := mbt.request_numeric(jsonb_build_object('qty', nullif(btrim(p_qty), '')), 'qty');
    v_percentage := mbt.request_numeric(jsonb_build_object('percentage', nullif(btrim(p_percentage), '')), 'percentage');
    if v_qty <= 0 or v_qty <> round(v_qty, 9) or v_qty > abs(v_position.qty) then
        perform mbt.raise_error('MBL05', format('qty must be over 0 and at most the position, %s.', trim_scale(abs(v_position.qty))),
            format('qty = %s, position = %s', v_qty, trim_scale(v_position.qty)), 'Leave qty out to close the whole position.');
    end if;
    if v_percentage <= 0 or v_percentage > 100 then
        perform mbt.raise_error('MBL05', 'percentage must be over 0 and at most 100.',
            format('percentage = %s', v_percentage), 'E.g. "percentage": "50" closes half.');
    end if;

    v_close := coalesce(
        v_qty,
        case
            when v_percentage is null then abs(v_position.qty)
            when abs(v_position.qty) = trunc(abs(v_position.qty)) then trunc(abs(v_position.qty) * v_percentage / 100)
            else trunc(abs(v_position.qty) * v_percentage / 100, 9)
        end
    );
    if v_close = 0 then
        perform mbt.raise_error('MBL05', format('%s%% of %s shares is less than one share.', trim_scale(v_percentage),
            trim_scale(abs(v_position.qty))), format('percentage = %s, position = %s', v_percentage, trim_scale(v_position.qty)),
            'A whole-share position closes in whole shares: raise the percentage.');
    end if;

    select coalesce(sum(coalesce(o.qty, 0) - o.filled_qty), 0) into v_held
    from mbt.orders as o
    where o.account_id = p_account_id and o.symbol = v_position.symbol
        and o.side = case when v_position.qty > 0 then 'sell' else 'buy' end::mbt.order_side
        and o.status in ('new', 'partially_filled', 'accepted', 'held', 'pending_new');
    v_available := greatest(abs(v_position.qty) - v_held, 0);
    if v_close > v_available then
        perform mbt.raise_error('MBO12', format('insufficient qty available for order (requested: %s, available: %s)',
            trim_scale(v_close), trim_scale(v_available)),
            format('available = %s, existing_qty = %s, held_for_orders = %s, symbol = %s',
                trim_scale(v_available), trim_scale(abs(v_position.qty)), trim_scale(v_held), v_position.symbol),
            'Cancel the open orders that already close this position, or close less.');
    end if;

    return mbt.submit_order(p_account_id, jsonb_build_object(
        'symbol', v_position.symbol,
        'qty', trim_scale(v_close)::text,
        'side', case when v_position.qty > 0 then 'sell' else 'buy' end,
        'type', 'market',
        'time_in_force', 'day'
    ), p_as_of);
end;
$$;
comment on function mbt.close_position(uuid, text, text, text, timestamptz) is
$$Close all of a position, a qty or a percentage of it with a market day order (mbt.submit_order).
MBL04 no such position, MBL05 bad qty or percentage, MBO12 already held by open orders.$$;

-- One symbol's result in a close-all: {symbol, status, order_id, body}, status 200 and the order, or
-- the error's HTTP status and its {code, message, details, hint}; a failed close writes nothing.
create or replace function mbt.try_close_position(p_account_id uuid, p_symbol text, p_as_of timestamptz)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_order mbt.orders;
    v_state text;
    v_message text;
    v_detail text;
    v_hint text;
begin
    v_order := mbt.close_position(p_account_id, p_symbol, null, null, p_as_of);
    return jsonb_build_object('symbol', p_symbol, 'status', 200, 'order_id', v_order.order_id, 'body', mbt.order_json(v_order));
exception
    when sqlstate 'PGRST' or sqlstate 'MBO11' or sqlstate 'MBO12' or sqlstate 'MBO10' or sqlstate 'MBO16'
        or sqlstate 'MBO13' or sqlstate 'MBO02' or sqlstate 'MBL04' then
        get stacked diagnostics v_state = returned_sqlstate, v_message = message_text, v_detail = pg_exception_detail,
            v_hint = pg_exception_hint;
        if v_state = 'PGRST' then
            -- raised for PostgREST: the message is the error body, the detail carries the status
            return jsonb_build_object('symbol', p_symbol, 'status', (v_detail::jsonb ->> 'status')::integer,
                'body', v_message::jsonb);
        end if;
        return jsonb_build_object('symbol', p_symbol,
            'status', (select c.http_status from mbt.error_catalogue() as c where c.code = v_state),
            'body', jsonb_build_object('code', v_state, 'message', v_message,
                'details', nullif(v_detail, ''), 'hint', nullif(v_hint, '')));
end;
$$;
comment on function mbt.try_close_position(uuid, text, timestamptz) is
'Close a whole position, answering {symbol, status, order_id, body} with the order, or the error (nothing written) instead of raising it.';

create or replace function mbt.close_all_positions(p_account_id uuid, p_cancel_orders boolean, p_as_of timestamptz)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_result jsonb;
begin
    perform from mbt.accounts as a where a.account_id = p_account_id for update;
    if p_cancel_orders then
        perform from mbt.cancel_all_orders(p_account_id, p_as_of);
    end if;
    select coalesce(jsonb_agg(r.result order by p.symbol), '[]'::jsonb) into v_result
    from mbt.positions as p
    cross join lateral (select mbt.try_close_position(p_account_id, p.symbol, p_as_of) as result) as r
    where p.account_id = p_account_id and p.qty <> 0;
    return v_result;
end;
$$;
comment on function mbt.close_all_positions(uuid, boolean, timestamptz) is
'Close every open position of the account (cancelling its open orders first if asked); one {symbol, status, order_id, body} per position.';
