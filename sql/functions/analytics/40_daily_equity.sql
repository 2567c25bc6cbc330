-- Daily account equity and P&L for analysts, from the end-of-day snapshots (mbt.account_snapshots).
create view analytics.daily_equity as
select
    encode(substr(sha256(k.secret || uuid_send(s.account_id)), 1, 16), 'hex') as account_key,
    s.trading_date,
    s.closed_at,
    s.cash,
    s.long_market_value,
    s.short_market_value,
    s.equity,
    s.net_deposits,
    s.equity - s.net_deposits as total_pl,
    s.equity - s.net_deposits - coalesce(lag(s.equity - s.net_deposits) over w, 0) as daily_pl,
    lag(s.equity) over w as previous_equity
from mbt.account_snapshots as s
cross join analytics.pseudonym_secret as k
window w as (partition by s.account_id order by s.trading_date);

comment on view analytics.daily_equity is $$Every account at the close of every NYSE trading day (the end-of-day snapshots): balances, equity and P&L.
P&L excludes deposits and withdrawals: total_pl = equity - net deposits; daily_pl is its change since the account's previous snapshot.$$;
comment on column analytics.daily_equity.account_key is 'Pseudonymous account key (analytics.accounts).';
comment on column analytics.daily_equity.trading_date is 'The New York trading day.';
comment on column analytics.daily_equity.closed_at is 'The close of that day''s regular session, timestamptz.';
comment on column analytics.daily_equity.cash is 'Cash at the close, USD.';
comment on column analytics.daily_equity.long_market_value is 'Long positions at their closing marks, USD.';
comment on column analytics.daily_equity.short_market_value is 'Short positions at their closing marks (negative), USD.';
comment on column analytics.daily_equity.equity is 'cash + long_market_value + short_market_value at the close, USD.';
comment on column analytics.daily_equity.net_deposits is 'Deposits less withdrawals up to the close (the opening deposit included), USD.';
comment on column analytics.daily_equity.total_pl is 'equity - net_deposits: profit or loss since the account opened, USD.';
comment on column analytics.daily_equity.daily_pl is $$total_pl - the previous snapshot's total_pl, USD: the day's profit or loss
(on the account's first snapshot, total_pl: an account opens with P&L zero).$$;
comment on column analytics.daily_equity.previous_equity is 'Equity at the previous snapshot of the account, USD; null on its first.';
