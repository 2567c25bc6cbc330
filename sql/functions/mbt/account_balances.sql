-- Balances of each account, in Alpaca's terms (shared/reference/alpaca.md 3.1, options_rules.md 1.2).
-- A view, not a function: the api views read it with their owner's rights, so HTTP callers need no
-- privilege on mbt. Until positions exist (equity orders issue) equity is the cash balance and the
-- market values and margin requirements are zero.
create view mbt.account_balances as
select
    a.account_id,
    a.cash as equity,
    a.cash as last_equity,
    0.00 as long_market_value,
    0.00 as short_market_value,
    0.00 as initial_margin,
    0.00 as maintenance_margin,
    case
        when a.multiplier = 1 or a.cash < 2000 then greatest(a.cash, 0)
        else greatest(a.cash, 0) * a.multiplier
    end as buying_power,
    greatest(a.cash, 0) * 2 as regt_buying_power,
    greatest(a.cash, 0) as non_marginable_buying_power,
    greatest(a.cash, 0) as options_buying_power
from mbt.accounts as a;

comment on view mbt.account_balances is $$Equity, market values, margin and buying power per account, USD.
Reg T: buying_power = max(equity - initial_margin, 0) x multiplier; under $2,000 equity, cash only.$$;
comment on column mbt.account_balances.account_id is 'Account.';
comment on column mbt.account_balances.equity is 'cash + long_market_value + short_market_value, USD.';
comment on column mbt.account_balances.last_equity is 'Equity at the previous close, USD.';
comment on column mbt.account_balances.long_market_value is 'Market value of long positions, USD.';
comment on column mbt.account_balances.short_market_value is 'Market value of short positions (negative), USD.';
comment on column mbt.account_balances.initial_margin is 'Reg T initial margin requirement, USD.';
comment on column mbt.account_balances.maintenance_margin is 'Maintenance margin requirement, USD.';
comment on column mbt.account_balances.buying_power is 'Buying power for marginable stock, USD.';
comment on column mbt.account_balances.regt_buying_power is 'Reg T (2x) buying power, USD.';
comment on column mbt.account_balances.non_marginable_buying_power is 'Buying power for non-marginable securities, USD.';
comment on column mbt.account_balances.options_buying_power is 'Buying power for options, USD.';
