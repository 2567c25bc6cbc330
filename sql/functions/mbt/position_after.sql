-- The position after one more execution, as an ordered aggregate: fold the executions of an account
-- and symbol in time order (the open position first, as a pseudo-execution at its average price).
-- Adding to a position averages the entry price; reducing it realizes (price - average) per share;
-- crossing zero opens the other side at the execution price.
create or replace function mbt.position_step(p_state mbt.position_state, p_qty numeric, p_price numeric)
returns mbt.position_state
language plpgsql
immutable
parallel safe
set search_path = ''
as $$
declare
    v_qty numeric := coalesce(p_state.qty, 0);
    v_avg numeric := coalesce(p_state.avg_price, 0);
    v_realized numeric := coalesce(p_state.realized_pl, 0);
    v_closing numeric;
begin
    if p_qty = 0 then
        return p_state;  -- a flat position's pseudo-execution: nothing to fold
    end if;
    if v_qty = 0 or sign(v_qty) = sign(p_qty) then
        v_avg := (abs(v_qty) * v_avg + abs(p_qty) * p_price) / (abs(v_qty) + abs(p_qty));
    else
        v_closing := least(abs(p_qty), abs(v_qty));
        v_realized := v_realized + v_closing * (p_price - v_avg) * sign(v_qty);
        if abs(p_qty) > abs(v_qty) then
            v_avg := p_price;
        end if;
    end if;
    v_qty := v_qty + p_qty;
    if v_qty = 0 then
        v_avg := 0;
    end if;
    return row(v_qty, v_avg, v_realized)::mbt.position_state;
end;
$$;
comment on function mbt.position_step(mbt.position_state, numeric, numeric) is
'One step of mbt.position_after: the position after an execution of signed quantity p_qty at p_price.';

create or replace aggregate mbt.position_after(numeric, numeric) (  -- noqa: LT01
    sfunc = mbt.position_step,
    stype = mbt.position_state,
    initcond = '(0,0,0)'
);
comment on aggregate mbt.position_after(numeric, numeric) is  -- noqa: LT01
'Ordered aggregate over (signed qty, price): the position (qty, average entry price, realized P&L) after the executions.';
