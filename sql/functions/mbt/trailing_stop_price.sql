-- The stop price of a trailing stop: the mark it trails (the high-water mark of the bid for a sell,
-- the low-water mark of the ask for a buy) less (sell) or plus (buy) the trail, in dollars or in
-- percent, rounded to the cent ($1.00 and above) or to 1/100 cent (below $1.00).
create or replace function mbt.trailing_stop_price(
    p_side mbt.order_side, p_mark numeric, p_trail_price numeric, p_trail_percent numeric
)
returns numeric
language sql
immutable
parallel safe
as $$
    select round(
        p_mark + case when p_side = 'sell' then -1 else 1 end * coalesce(p_trail_price, p_mark * p_trail_percent / 100),
        case when p_mark >= 1 then 2 else 4 end
    )
$$;
comment on function mbt.trailing_stop_price(mbt.order_side, numeric, numeric, numeric) is
'Stop price of a trailing stop from its mark (sell: highest bid, buy: lowest ask) and its trail ($ or %), USD.';

-- An order's stop price as it stands: an untriggered trailing stop's follows its mark (the engine
-- moves only hwm, so that a mark's move is a heap-only update of the order); a triggered one keeps
-- the stop it triggered at, written then; every other order's is as submitted.
create or replace function mbt.order_stop_price(p_order mbt.orders)
returns numeric
language sql
immutable
parallel safe
as $$
    select case
        when p_order.order_type = 'trailing_stop' and p_order.stop_triggered_at is null and p_order.hwm is not null then
            mbt.trailing_stop_price(p_order.side, p_order.hwm, p_order.trail_price, p_order.trail_percent)
        else p_order.stop_price
    end
$$;
comment on function mbt.order_stop_price(mbt.orders) is
'The stop price of an order as it stands, USD: an untriggered trailing stop''s from its hwm and trail.';

-- A trailing stop with the mark its mbt.trailing_marks row has reached (a rider's: the shared mark of
-- mbt.trailing_extremes), when that is beyond the order's own (sell: higher, buy: lower), and the time
-- it moved there; the order as it is otherwise (no mark row, or the order's mark is as far). PL/pgSQL: the plan of its one lookup is kept for the connection.
create or replace function mbt.order_with_live_mark(p_order mbt.orders)
returns mbt.orders
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
    v_mark numeric;
    v_moved_at timestamptz;
begin
    select coalesce(x.hwm, m.hwm), greatest(m.moved_at, x.moved_at) into v_mark, v_moved_at
    from mbt.trailing_marks as m
    -- a rider's mark is its symbol and side's shared one
    left join mbt.trailing_extremes as x on m.rides and m.symbol = x.symbol and m.side = x.side
    where m.account_id = p_order.account_id and m.order_id = p_order.order_id;
    if v_mark is not null and (p_order.hwm is null or p_order.side = 'sell' and v_mark > p_order.hwm
            or p_order.side = 'buy' and v_mark < p_order.hwm) then
        p_order.hwm := v_mark;
        p_order.updated_at := greatest(p_order.updated_at, v_moved_at);
    end if;
    return p_order;
end;
$$;
comment on function mbt.order_with_live_mark(mbt.orders) is
'A trailing stop with the mark (and move time) its mbt.trailing_marks row has reached, when beyond its own.';

-- An order as it stands: an untriggered trailing stop with the mark its mark row has reached (the engine
-- moves a live stop's mark there alone: mbt.fill_orders); any other order as it is.
create or replace function mbt.order_as_it_stands(p_order mbt.orders)
returns mbt.orders
language sql
stable
as $$
    select case
        when p_order.order_type = 'trailing_stop' and p_order.stop_triggered_at is null then
            mbt.order_with_live_mark(p_order)
        else p_order
    end
$$;
comment on function mbt.order_as_it_stands(mbt.orders) is
'The order as it stands: a live trailing stop with the mark (and update time) its mbt.trailing_marks row has reached.';
