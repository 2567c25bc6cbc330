-- GET /api/account: the caller's paper account in the shape of Alpaca's GET /v2/account.
-- Money is a decimal string (as at Alpaca): exact, and safe for JavaScript clients.
-- It reads the tables (as api_owner, so row-level security keeps the caller to their own rows) and
-- applies the rules of mbt/margin_rules.sql, as mbt.account_balances does for the engine.
create view api.account as
select
    a.account_id as id,
    a.account_number,
    a.status::text as status,
    a.currency::text as currency,
    a.cash::text as cash,
    round(b.buying_power, 2)::text as buying_power,
    round(b.regt_buying_power, 2)::text as regt_buying_power,
    round(b.non_marginable_buying_power, 2)::text as non_marginable_buying_power,
    round(b.options_buying_power, 2)::text as options_buying_power,
    '0.00' as accrued_fees,
    '0.00' as pending_transfer_in,
    '0.00' as pending_transfer_out,
    round(b.equity, 2)::text as portfolio_value,
    round(b.equity, 2)::text as equity,
    coalesce(im.last_equity, round(b.equity, 2)::text) as last_equity,
    coalesce(im.last_maintenance_margin, '0.00') as last_maintenance_margin,
    coalesce(im.intraday_margin_level, '0.00') as intraday_margin_level,
    coalesce(im.intraday_buying_power, '0.00') as intraday_buying_power,
    round(b.long_market_value, 2)::text as long_market_value,
    round(b.short_market_value, 2)::text as short_market_value,
    round(b.initial_margin, 2)::text as initial_margin,
    round(b.maintenance_margin, 2)::text as maintenance_margin,
    a.multiplier::text as multiplier,
    a.shorting_enabled,
    a.status <> 'ACTIVE' or a.trade_suspended_by_user as trading_blocked,
    false as transfers_blocked,
    a.status = 'DISABLED' as account_blocked,
    a.trade_suspended_by_user,
    a.options_approved_level,
    a.options_approved_level as options_trading_level,
    a.created_at
from mbt.accounts as a
cross join
    lateral (
        select
            coalesce(sum(pv.market_value) filter (where pv.qty > 0), 0) as long_market_value,
            coalesce(sum(pv.market_value) filter (where pv.qty < 0), 0) as short_market_value,
            coalesce(sum(mbt.initial_margin(pv.market_value, pv.marginable)), 0) as initial_margin,
            coalesce(sum(mbt.maintenance_margin(pv.qty, pv.current_price, pv.long_percent)), 0) as maintenance_margin
        from api.position_marks as pv
        where pv.account_id = a.account_id
    ) as v
cross join
    lateral (
        select coalesce(sum(o.buying_power_held), 0) as held
        from mbt.orders as o
        where o.account_id = a.account_id and o.status in ('new', 'partially_filled', 'accepted', 'held')
    ) as h
cross join lateral (select a.cash + v.long_market_value + v.short_market_value as equity) as e
cross join
    lateral (
        select
            e.equity,
            e.equity as last_equity,
            v.long_market_value,
            v.short_market_value,
            v.initial_margin,
            v.maintenance_margin,
            mbt.buying_power(a.multiplier, a.cash, e.equity, v.initial_margin, h.held) as buying_power,
            mbt.buying_power(2::smallint, a.cash, e.equity, v.initial_margin, h.held) as regt_buying_power,
            mbt.cash_buying_power(a.cash, e.equity, v.initial_margin, h.held) as non_marginable_buying_power,
            mbt.cash_buying_power(a.cash, e.equity, v.initial_margin, h.held) as options_buying_power
    ) as b
left join lateral api.intraday_margin() as im on true;

comment on view api.account is $$Your paper account
The signed-in user's account, with the field names of Alpaca's GET /v2/account. Money fields are decimal strings in USD.$$;
comment on column api.account.id is 'Account id (uuid).';
comment on column api.account.account_number is 'Account number (MB followed by digits).';
comment on column api.account.status is 'ACTIVE, ACCOUNT_CLOSED or DISABLED.';
comment on column api.account.currency is 'Account currency (USD).';
comment on column api.account.cash is 'Cash balance, USD.';
comment on column api.account.buying_power is 'Buying power for stock, USD: max(equity - initial_margin, 0) x multiplier; cash only under $2,000 equity.';
comment on column api.account.regt_buying_power is 'Reg T (2x overnight) buying power, USD.';
comment on column api.account.non_marginable_buying_power is 'Buying power for non-marginable securities, USD.';
comment on column api.account.options_buying_power is 'Buying power for options (no margin loan), USD.';
comment on column api.account.accrued_fees is 'Fees accrued and not yet charged, USD.';
comment on column api.account.pending_transfer_in is 'Deposits pending, USD (always 0.00 in paper trading).';
comment on column api.account.pending_transfer_out is 'Withdrawals pending, USD (always 0.00 in paper trading).';
comment on column api.account.portfolio_value is 'Same as equity (Alpaca keeps it for old clients), USD.';
comment on column api.account.equity is 'cash + long_market_value + short_market_value (short is negative), USD.';
comment on column api.account.last_equity is 'Equity at the previous trading day''s close, USD.';
comment on column api.account.last_maintenance_margin is 'Maintenance margin requirement at the previous trading day''s close, USD.';
comment on column api.account.intraday_margin_level is
'Intraday margin level, USD: 4 x (last_equity - last_maintenance_margin) (FINRA intraday margin standard, from 2026-06-04).';
comment on column api.account.intraday_buying_power is
'What is left of the intraday margin level today, USD: level - value opened today - holds of open orders (margin accounts; 0 for cash accounts).';
comment on column api.account.long_market_value is 'Market value of long positions, USD.';
comment on column api.account.short_market_value is 'Market value of short positions (negative), USD.';
comment on column api.account.initial_margin is 'Reg T initial margin requirement of the positions, USD.';
comment on column api.account.maintenance_margin is 'Maintenance margin requirement of the positions, USD.';
comment on column api.account.multiplier is 'Buying-power multiplier: "1" cash, "2" Reg T margin, "4" intraday.';
comment on column api.account.shorting_enabled is 'Whether short selling is allowed.';
comment on column api.account.trading_blocked is 'True when the account cannot trade (not ACTIVE, or paused by the user).';
comment on column api.account.transfers_blocked is 'True when cash transfers are blocked (never in paper trading).';
comment on column api.account.account_blocked is 'True when the account is disabled.';
comment on column api.account.trade_suspended_by_user is 'True when the user paused trading.';
comment on column api.account.options_approved_level is 'Options level approved: 0 none, 1 covered, 2 long, 3 spreads.';
comment on column api.account.options_trading_level is 'Options level in effect (equal to the approved level).';
comment on column api.account.created_at is 'When the account was opened.';
