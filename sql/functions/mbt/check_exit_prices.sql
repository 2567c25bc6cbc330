-- The exits of a bracket, oco or oto group: the take-profit is the better price for the exit side,
-- the stop-loss the worse one (a sell exits above its stop-loss, a buy below). Either may be absent.
create or replace function mbt.check_exit_prices(p_exit_side mbt.order_side, p_take_profit numeric, p_stop_loss numeric)
returns void
language plpgsql
stable
set search_path = ''
as $$
begin
    if (p_take_profit - p_stop_loss) * (case when p_exit_side = 'sell' then 1 else -1 end) <= 0 then
        perform mbt.raise_error('MBO20', format('take_profit.limit_price must be %s stop_loss.stop_price.',
            case when p_exit_side = 'sell' then 'above' else 'below' end),
            format('take_profit.limit_price = %s, stop_loss.stop_price = %s', p_take_profit, p_stop_loss),
            'The take-profit is the better price for the exit, the stop-loss the worse one.');
    end if;
end;
$$;
comment on function mbt.check_exit_prices(mbt.order_side, numeric, numeric) is
'Raises MBO20 unless the take-profit is beyond the stop-loss for the exit side (nothing to check when one is null).';
