-- Orders: GET /api/orders (Alpaca's GET /v2/orders, with PostgREST filters: ?status=eq.filled,
-- ?symbol=eq.AAPL, ?client_order_id=eq.x, ?order=created_at.desc&limit=50), POST /api/rpc/submit_order,
-- POST /api/rpc/cancel_order.
create view api.orders as
select
    o.order_id as id,
    o.client_order_id,
    o.created_at,
    greatest(o.updated_at, m.moved_at, sm.moved_at) as updated_at,
    o.submitted_at,
    o.filled_at,
    o.expired_at,
    o.canceled_at,
    o.failed_at,
    o.replaced_at,
    o.replaced_by,
    o.replaces,
    o.expires_at,
    o.asset_id,
    o.symbol,
    o.asset_class::text as asset_class,
    trim_scale(o.notional)::text as notional,
    trim_scale(o.qty)::text as qty,
    trim_scale(o.filled_qty)::text as filled_qty,
    trim_scale(o.filled_avg_price)::text as filled_avg_price,
    o.order_class::text as order_class,
    o.order_type::text as type,
    o.side::text as side,
    o.position_intent::text as position_intent,
    o.time_in_force::text as time_in_force,
    trim_scale(o.limit_price)::text as limit_price,
    trim_scale(coalesce(
        mbt.trailing_stop_price(o.side, sm.hwm, o.trail_price, o.trail_percent), m.stop_price, mbt.order_stop_price(o)
    ))::text as stop_price,
    trim_scale(o.trail_price)::text as trail_price,
    trim_scale(o.trail_percent)::text as trail_percent,
    trim_scale(coalesce(sm.hwm, m.hwm, o.hwm))::text as hwm,
    o.status::text as status,
    o.extended_hours,
    o.parent_order_id
from mbt.orders as o
-- a live trailing stop's mark and stop as they stand (the engine moves them on its mark row alone)
-- (a rider's: its symbol and side's shared mark)
left join mbt.trailing_marks as m
    on o.order_type = 'trailing_stop' and o.account_id = m.account_id and o.order_id = m.order_id
left join mbt.trailing_extremes as sm on m.rides and m.symbol = sm.symbol and m.side = sm.side;

comment on view api.orders is $$Your orders
Alpaca's Order fields; numbers are decimal strings. Filter and page with PostgREST: ?status=eq.new, ?symbol=eq.AAPL, ?order=created_at.desc&limit=50.$$;
comment on column api.orders.id is 'Order id.';
comment on column api.orders.client_order_id is 'Your id for the order (unique among all your orders kept).';
comment on column api.orders.created_at is 'When it was created.';
comment on column api.orders.updated_at is 'Last change.';
comment on column api.orders.submitted_at is 'When it was submitted.';
comment on column api.orders.filled_at is 'When it was completely filled.';
comment on column api.orders.expired_at is 'When it expired.';
comment on column api.orders.canceled_at is 'When it was canceled.';
comment on column api.orders.failed_at is 'When it was rejected.';
comment on column api.orders.replaced_at is 'When it was replaced.';
comment on column api.orders.replaced_by is 'The order that replaced it.';
comment on column api.orders.replaces is 'The order it replaced.';
comment on column api.orders.expires_at is 'When it expires: the close of its session (day) or after 90 days (gtc).';
comment on column api.orders.asset_id is 'Asset id.';
comment on column api.orders.symbol is 'Symbol.';
comment on column api.orders.asset_class is 'us_equity or us_option.';
comment on column api.orders.notional is 'Ordered amount, USD (notional orders).';
comment on column api.orders.qty is 'Ordered quantity, shares.';
comment on column api.orders.filled_qty is 'Filled quantity, shares.';
comment on column api.orders.filled_avg_price is 'Average fill price, USD.';
comment on column api.orders.order_class is 'simple, bracket, oco or oto (mleg later).';
comment on column api.orders.type is 'market, limit, stop, stop_limit or trailing_stop.';
comment on column api.orders.side is 'buy or sell.';
comment on column api.orders.position_intent is 'buy_to_open, buy_to_close, sell_to_open or sell_to_close.';
comment on column api.orders.time_in_force is 'day, gtc, opg, cls, ioc or fok.';
comment on column api.orders.limit_price is 'Limit price, USD.';
comment on column api.orders.stop_price is 'Stop price, USD (an untriggered trailing stop: where its mark puts it now).';
comment on column api.orders.status is 'Alpaca order status: new, accepted, partially_filled, filled, canceled, expired, ...';
comment on column api.orders.extended_hours is 'May fill in pre-market and after-hours.';
comment on column api.orders.trail_price is 'Trailing stop: the trail in dollars, USD.';
comment on column api.orders.trail_percent is 'Trailing stop: the trail in percent of the mark.';
comment on column api.orders.hwm is 'Trailing stop: the mark it trails (sell: highest bid, buy: lowest ask) so far, USD.';
comment on column api.orders.parent_order_id is
'For the exits of a bracket or oto (and an oco''s stop-loss): the order they hang under; null otherwise.';

-- PL/pgSQL rather than SQL (here and in the functions it calls on the way): a SECURITY DEFINER SQL
-- function is never inlined, so its body would be parsed and planned again on every submission.
create function api.submit_order(jsonb)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
begin
    return mbt.order_json_nested(mbt.submit_order(mbt.current_account_id(), $1, now()));
end;
$$;
comment on function api.submit_order(jsonb) is $$Submit an order
The body is Alpaca's order request: {"symbol", "qty" | "notional", "side", "type", "time_in_force", "limit_price", "stop_price", "trail_price" | "trail_percent", "extended_hours", "client_order_id", "position_intent", "order_class" (simple, bracket, oco, oto), "take_profit": {"limit_price"}, "stop_loss": {"stop_price", "limit_price"}}. Returns the order with its legs; a marketable order may already be filled.
A client_order_id your account has used before, whatever became of that order, is 422 MBO09: a request sent again places nothing.$$;

create function api.cancel_order(id uuid)
returns jsonb
language sql
volatile
security definer
set search_path = ''
as $$
    select mbt.order_json_nested(mbt.cancel_order(
        mbt.current_account_id(), id, now()
    ))
$$;
comment on function api.cancel_order(uuid) is $$Cancel an open order
Releases the buying power it held. 404 if it is not yours, 422 if it is no longer open.$$;

create function api.replace_order(id uuid, changes jsonb)
returns jsonb
language sql
volatile
security definer
set search_path = ''
as $$
    select mbt.order_json_nested(mbt.replace_order(
        mbt.current_account_id(), id, changes, now()
    ))
$$;
comment on function api.replace_order(uuid, jsonb) is $$Replace an open order
Body {"id": "<order id>", "changes": {"qty", "time_in_force", "limit_price", "stop_price", "trail", "client_order_id"}}; a bracket's or oco's exit takes new prices only. Returns the new order (a new id; the old one becomes replaced).$$;

create function api.cancel_all_orders()
returns jsonb
language sql
volatile
security definer
set search_path = ''
as $$
    select coalesce(jsonb_agg(jsonb_build_object('id', c.id, 'status', c.status, 'body', c.body)), '[]'::jsonb)
    from mbt.cancel_all_orders(
        mbt.current_account_id(), now()
    ) as c
$$;
comment on function api.cancel_all_orders() is $$Cancel all open orders
Returns one {id, status, body} per order, as Alpaca's DELETE /v2/orders does.$$;

-- GET /api/rpc/list_orders: Alpaca's GET /v2/orders with its parameters (status, limit as max_orders, after, until,
-- direction, nested, symbols, side); orders in Alpaca's JSON, with nested=true a group's exits under
-- the order they belong to instead of beside it.
create function api.list_orders(
    status text default 'open',
    max_orders integer default 50,
    after timestamptz default null,
    until timestamptz default null,
    direction text default 'desc',
    nested boolean default false,
    symbols text default null,
    side text default null
)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
    v_nulls text := concat_ws(', ',
        case when status is null then 'status' end, case when max_orders is null then 'max_orders' end,
        case when direction is null then 'direction' end, case when nested is null then 'nested' end
    );
begin
    -- a null is not a value (JSON null in a POST body): max_orders null was no limit at all, status null no
    -- order; side, after, until and symbols are null by default, and null there means all
    if v_nulls <> '' then
        perform mbt.raise_error('MBV03', format('List parameters cannot be null: %s.', v_nulls),
            format('null: %s', v_nulls),
            'Leave a parameter out for its default: status open, max_orders 50, direction desc, nested false.');
    end if;
    if status not in ('open', 'closed', 'all') or direction not in ('asc', 'desc') or side not in ('buy', 'sell')
        or max_orders not between 1 and 500 then
        perform mbt.raise_error('MBV03', 'Invalid list parameters.',
            format('status = %s, max_orders = %s, direction = %s, side = %s', status, max_orders, direction, side),
            'status: open, closed or all; max_orders: 1 to 500; direction: asc or desc; side: buy or sell.');
    end if;
    return coalesce((
        select jsonb_agg(case when nested then mbt.order_json_nested(o.listed) else mbt.order_json(o.listed) end
            order by o.n)
        from (
            select x as listed, row_number() over (
                order by case when direction = 'asc' then x.submitted_at end asc,
                    case when direction = 'desc' then x.submitted_at end desc, x.order_id
            ) as n
            from mbt.orders as x
            where x.account_id = mbt.current_account_id()
                and (list_orders.status = 'all'
                    or (list_orders.status = 'open')
                    = (x.status in ('new', 'partially_filled', 'accepted', 'held', 'pending_new')))
                and (after is null or x.submitted_at > after)
                and (until is null or x.submitted_at < until)
                and (symbols is null or x.symbol = any(string_to_array(upper(replace(symbols, ' ', '')), ',')))
                and (list_orders.side is null or x.side::text = list_orders.side)
                and not (nested and x.parent_order_id is not null)
            order by n
            limit max_orders
        ) as o
    ), '[]'::jsonb);
end;
$$;
comment on function api.list_orders(text, integer, timestamptz, timestamptz, text, boolean, text, text) is
$$List your orders, Alpaca style
status open (default), closed or all; max_orders 1-500 (default 50; Alpaca's limit, a name PostgREST keeps for itself); after / until (submission time); direction asc or desc (default); nested=true puts a bracket's, oto's or oco's exits under their order; symbols: comma-separated; side buy or sell (default both). Leave a parameter out for its default; null is refused for status, max_orders, direction and nested.$$;
