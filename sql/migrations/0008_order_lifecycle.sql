-- 0008 order lifecycle: cash ledger (non-trade activities), end-of-day snapshots, expiry and activity-feed
-- indexes, the jobs run log; the opening deposit of every existing account as a CSD activity.

create table mbt.cash_activities (
    account_id uuid not null references mbt.accounts (account_id) on delete cascade,
    activity_id uuid not null default gen_random_uuid(),
    activity_type text not null,
    activity_at timestamptz not null,
    net_amount numeric(20, 2) not null,
    description text not null default '',
    status text not null default 'executed',
    symbol text,
    qty numeric(24, 9),
    per_share_amount numeric(14, 4),
    primary key (account_id, activity_id),
    constraint cash_activities_type_known check (activity_type in (
        'CSD', 'CSW', 'JNLC', 'TRANS', 'DIV', 'INT', 'FEE', 'MISC'
    )),
    constraint cash_activities_status_known check (status in ('executed', 'correct', 'canceled'))
);
create index cash_activities_account_time on mbt.cash_activities (account_id, activity_at, activity_id);
comment on table mbt.cash_activities is $$The cash ledger: every cash movement that is not a trade (deposits, withdrawals,
dividends, interest, fees), shown as Alpaca's non-trade activities. Trades are in mbt.fills.$$;
comment on column mbt.cash_activities.account_id is 'Account.';
comment on column mbt.cash_activities.activity_id is 'Activity id (the uuid part of Alpaca''s activity id).';
comment on column mbt.cash_activities.activity_type is 'Alpaca activity type: CSD deposit, CSW withdrawal, JNLC, TRANS, DIV, INT, FEE, MISC.';
comment on column mbt.cash_activities.activity_at is 'When the cash moved.';
comment on column mbt.cash_activities.net_amount is 'Cash in (positive) or out (negative), USD.';
comment on column mbt.cash_activities.description is 'What it was, in words.';
comment on column mbt.cash_activities.status is 'executed, correct or canceled (Alpaca''s non-trade activity status).';
comment on column mbt.cash_activities.symbol is 'The symbol it concerns (dividends), else null.';
comment on column mbt.cash_activities.qty is 'Shares it concerns (dividends), else null.';
comment on column mbt.cash_activities.per_share_amount is 'Amount per share (dividends), USD.';

create table mbt.account_snapshots (
    account_id uuid not null references mbt.accounts (account_id) on delete cascade,
    trading_date date not null,
    closed_at timestamptz not null,
    cash numeric(20, 2) not null,
    long_market_value numeric(20, 2) not null,
    short_market_value numeric(20, 2) not null,
    equity numeric(20, 2) not null,
    net_deposits numeric(20, 2) not null,
    primary key (account_id, trading_date)
);
comment on table mbt.account_snapshots is $$End-of-day snapshot of every account at the close of each NYSE trading day
(mbt.write_eod_snapshots): the balances as they stood at the close, positions marked at the last quote at or before it.$$;
comment on column mbt.account_snapshots.account_id is 'Account.';
comment on column mbt.account_snapshots.trading_date is 'The New York trading day.';
comment on column mbt.account_snapshots.closed_at is 'The close of that day''s regular session (16:00 ET, 13:00 ET on early closes).';
comment on column mbt.account_snapshots.cash is 'Cash at the close, USD.';
comment on column mbt.account_snapshots.long_market_value is 'Long positions at their closing marks, USD.';
comment on column mbt.account_snapshots.short_market_value is 'Short positions at their closing marks (negative), USD.';
comment on column mbt.account_snapshots.equity is 'cash + long_market_value + short_market_value at the close, USD.';
comment on column mbt.account_snapshots.net_deposits is 'Deposits less withdrawals (CSD, CSW, JNLC, TRANS) up to the close, USD: not profit.';

create table mbt.position_snapshots (
    account_id uuid not null references mbt.accounts (account_id) on delete cascade,
    trading_date date not null,
    symbol text not null,
    qty numeric(24, 9) not null,
    close_price numeric(18, 9) not null,
    primary key (account_id, trading_date, symbol)
);
create index position_snapshots_account_symbol on mbt.position_snapshots (account_id, symbol, trading_date);
comment on table mbt.position_snapshots is 'Every open position at the close of each trading day, with its closing mark (lastday_price).';
comment on column mbt.position_snapshots.account_id is 'Account.';
comment on column mbt.position_snapshots.trading_date is 'The New York trading day.';
comment on column mbt.position_snapshots.symbol is 'Symbol.';
comment on column mbt.position_snapshots.qty is 'Shares held at the close; negative when short.';
comment on column mbt.position_snapshots.close_price is 'Mark at the close: midpoint of the last sane quote at or before it, USD.';

-- expiry finds the open orders whose time is up, the activity feed pages an account's fills by time
create index orders_open_expiry on mbt.orders (expires_at)
where status in ('new', 'partially_filled', 'accepted', 'held', 'pending_new');
create index fills_account_time on mbt.fills (account_id, transaction_time, fill_id);

create table jobs.run_log (
    run_id bigint generated always as identity primary key,
    job text not null,
    as_of timestamptz not null,
    rows_affected bigint,
    started_at timestamptz not null,
    finished_at timestamptz not null,
    error text
);
create index run_log_job_as_of on jobs.run_log (job, as_of);
comment on table jobs.run_log is 'One row per run of a scheduled job (jobs.run_job): what ran, for which instant, what it changed.';
comment on column jobs.run_log.run_id is 'Run id, increasing.';
comment on column jobs.run_log.job is 'expire_day_orders, expire_gtc_orders or write_eod_snapshots.';
comment on column jobs.run_log.as_of is 'The instant the run acted for (from md.market_calendar), not when it ran.';
comment on column jobs.run_log.rows_affected is 'Rows the run changed (orders expired, snapshots written); 0 on a repeat.';
comment on column jobs.run_log.started_at is 'Wall-clock start of the run.';
comment on column jobs.run_log.finished_at is 'Wall-clock end of the run.';
comment on column jobs.run_log.error is 'The error, when the run failed (nothing else was changed); null on success.';

-- Accounts opened before the ledger: their opening deposit is the cash today less what their fills
-- moved (fills are the only other thing that has changed cash so far), dated when the account opened.
insert into mbt.cash_activities (account_id, activity_type, activity_at, net_amount, description)
select
    a.account_id,
    'CSD' as activity_type,
    a.created_at as activity_at,
    a.cash - t.traded as net_amount,
    'Opening deposit' as description
from mbt.accounts as a
cross join
    lateral (
        select coalesce(sum(round(case when f.side = 'buy' then -f.qty * f.price else f.qty * f.price end, 2)), 0) as traded
        from mbt.fills as f
        where f.account_id = a.account_id
    ) as t
where a.cash - t.traded <> 0;
