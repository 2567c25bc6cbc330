-- The margin and buying-power rules, as pure functions of their inputs (options_rules.md 1.1-1.2,
-- alpaca.md 3.2). The engine's views and the api views both call them, so each rule is written once.

-- A position's mark: the midpoint of a sane quote, else the fallback (its entry price).
create or replace function mbt.mark_price(p_bid numeric, p_ask numeric, p_fallback numeric)
returns numeric
language sql
immutable
parallel safe
as $$
    select case when p_bid > 0 and p_ask >= p_bid then (p_bid + p_ask) / 2 else p_fallback end
$$;
comment on function mbt.mark_price(numeric, numeric, numeric) is
'Mark price, USD: the quote midpoint when bid > 0 and ask >= bid, else the fallback.';

-- Reg T initial requirement: 50% of the market value, 100% for non-marginable securities.
create or replace function mbt.initial_margin(p_market_value numeric, p_marginable boolean)
returns numeric
language sql
immutable
parallel safe
as $$
    select abs(p_market_value) * case when coalesce(p_marginable, true) then 0.5 else 1 end
$$;
comment on function mbt.initial_margin(numeric, boolean) is
'Reg T initial margin, USD: 50% of |market value|, 100% if not marginable.';

-- Maintenance: long 30% (the asset's rate; 100% under $2.50); short max(30%, $5/share), or under
-- $5 max(100%, $2.50/share).
create or replace function mbt.maintenance_margin(p_qty numeric, p_price numeric, p_long_percent numeric)
returns numeric
language sql
immutable
parallel safe
as $$
    select case
        when p_qty > 0 and p_price < 2.5 then p_price * p_qty
        when p_qty > 0 then p_price * p_qty * coalesce(p_long_percent, 30) / 100
        when p_price < 5 then greatest(abs(p_price * p_qty), 2.5 * abs(p_qty))
        else greatest(0.3 * abs(p_price * p_qty), 5 * abs(p_qty))
    end
$$;
comment on function mbt.maintenance_margin(numeric, numeric, numeric) is
'Maintenance requirement, USD: long 30% (100% under $2.50); short max(30%, $5/share), under $5 max(100%, $2.50/share).';

-- Buying power left: Reg T max(equity - initial margin, 0) x multiplier, cash only for multiplier 1
-- or under $2,000 equity; less what open orders hold; never negative.
create or replace function mbt.buying_power(
    p_multiplier smallint, p_cash numeric, p_equity numeric, p_initial_margin numeric, p_held numeric
)
returns numeric
language sql
immutable
parallel safe
as $$
    select greatest(
        case
            when p_multiplier = 1 or p_equity < 2000 then p_cash
            else greatest(p_equity - p_initial_margin, 0) * p_multiplier
        end - p_held,
        0
    )
$$;
comment on function mbt.buying_power(smallint, numeric, numeric, numeric, numeric) is
'Buying power left, USD: max(equity - initial_margin, 0) x multiplier (cash if multiplier 1 or equity < 2000), less holds.';

-- Buying power that no margin loan may fund (non-marginable securities, options): the cash, at most
-- the equity in excess of the initial requirement, less holds; never negative.
create or replace function mbt.cash_buying_power(p_cash numeric, p_equity numeric, p_initial_margin numeric, p_held numeric)
returns numeric
language sql
immutable
parallel safe
as $$
    select greatest(least(p_cash, greatest(p_equity - p_initial_margin, 0)) - p_held, 0)
$$;
comment on function mbt.cash_buying_power(numeric, numeric, numeric, numeric) is
'Buying power without margin loan, USD: min(cash, max(equity - initial_margin, 0)) less holds, at least 0.';
