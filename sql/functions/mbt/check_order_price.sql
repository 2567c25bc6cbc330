-- A price an order carries (limit, stop, take-profit, stop-loss, trail) must be positive and in the
-- increments the market quotes: cents at $1.00 and above, 1/100 cent below (alpaca.md 1.2).
-- An SQL function of one expression, inlined where it is called, provided p_price is a plain value (a
-- variable): called on an expression, p_price would be evaluated once per mention, so PostgreSQL would
-- not inline it.
create or replace function mbt.check_order_price(p_field text, p_price numeric)
returns numeric
language sql
stable
as $$
    select case
        when p_price <= 0 then mbt.raise_error(
            'MBV03', format('%s must be positive.', p_field), format('%s = %s', p_field, p_price), 'Send a price above zero.'
        )::text::numeric
        when p_price <> round(p_price, case when p_price >= 1 then 2 else 4 end) then mbt.raise_error(
            'MBO05', format('invalid %s %s. sub-penny increment does not fulfill minimum pricing criteria', p_field, p_price),
            format('%s = %s', p_field, p_price), 'Prices of $1.00 and above take 2 decimals, below $1.00 up to 4.'
        )::text::numeric
        else p_price
    end
$$;
comment on function mbt.check_order_price(text, numeric) is
'Returns the price if it is positive and in quoting increments; raises MBV03 or MBO05 naming the field otherwise.';
