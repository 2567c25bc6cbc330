-- Tier retention (issue 7 part 3): how long each tier keeps a user's history, what the purge carried
-- forward of the rows it removed (so no balance, position or visible figure changes), and what each
-- run removed per account.

create table jobs.tier_retention (
    tier auth.tier primary key,
    history interval,
    constraint tier_retention_history_at_least_a_week check (history >= interval '7 days')
);
comment on table jobs.tier_retention is $$How long each tier keeps a user's orders, audit trail, fills, activities and
end-of-day snapshots, in New York days back from the purge's as_of (mbt.purge_expired_history).$$;
comment on column jobs.tier_retention.tier is 'The tier.';
comment on column jobs.tier_retention.history is $$History kept (calendar interval of New York days, e.g. 90 days, 3 years);
null: kept for ever. At least 7 days (settlement reads the last week's fills).$$;

insert into jobs.tier_retention (tier, history) values
('free', interval '90 days'),
('pro', interval '3 years'),
('pro_plus', null);

create table mbt.retention_carry (
    account_id uuid primary key references mbt.accounts (account_id) on delete cascade,
    purged_before date not null,
    net_deposits numeric(20, 2) not null default 0,
    base_date date,
    base_equity numeric(20, 2),
    base_net_deposits numeric(20, 2),
    updated_at timestamptz not null
);
comment on table mbt.retention_carry is $$What tier retention carried forward of an account's purged history: the figures the
retained period still depends on (net deposits to date, the starting equity of portfolio history).$$;
comment on column mbt.retention_carry.account_id is 'Account.';
comment on column mbt.retention_carry.purged_before is
'The latest cut-off purged up to: rows of New York days before it may be gone (open orders and their groups stay).';
comment on column mbt.retention_carry.net_deposits is
'Sum of the purged deposits and withdrawals (CSD, CSW, JNLC, TRANS, not canceled), USD: added to net deposits to date.';
comment on column mbt.retention_carry.base_date is 'Trading day of the latest purged end-of-day account snapshot.';
comment on column mbt.retention_carry.base_equity is
'Equity at that close, USD: portfolio history''s base_value when its first point follows it.';
comment on column mbt.retention_carry.base_net_deposits is 'Net deposits at that close, USD.';
comment on column mbt.retention_carry.updated_at is 'The as_of of the purge that last changed the row.';

create table mbt.retention_positions (
    account_id uuid not null references mbt.accounts (account_id) on delete cascade,
    symbol text not null,
    qty numeric(24, 9) not null,
    avg_entry_price numeric(18, 9) not null,
    realized_pl numeric(20, 4) not null,
    primary key (account_id, symbol)
);
comment on table mbt.retention_positions is $$Per symbol, the position the purged fills of an account add up to
(the opening state replay starts from, instead of fills that are gone).$$;
comment on column mbt.retention_positions.account_id is 'Account.';
comment on column mbt.retention_positions.symbol is 'Symbol.';
comment on column mbt.retention_positions.qty is 'Shares the purged fills leave (negative: short).';
comment on column mbt.retention_positions.avg_entry_price is 'Average entry price of that quantity, USD.';
comment on column mbt.retention_positions.realized_pl is 'Profit or loss the purged fills realized, USD.';

create table jobs.tier_retention_log (
    account_id uuid not null references mbt.accounts (account_id) on delete cascade,
    as_of timestamptz not null,
    tier auth.tier not null,
    history interval not null,
    cutoff_day date not null,
    orders bigint not null default 0,
    order_events bigint not null default 0,
    fills bigint not null default 0,
    cash_activities bigint not null default 0,
    account_snapshots bigint not null default 0,
    position_snapshots bigint not null default 0,
    trade_updates bigint not null default 0,
    batches integer not null default 0,
    started_at timestamptz not null,
    finished_at timestamptz not null,
    primary key (account_id, as_of)
);
create index tier_retention_log_as_of on jobs.tier_retention_log (as_of);
comment on table jobs.tier_retention_log is
'What each tier-retention run (one as_of) removed from each account, per table; accounts it removed nothing from have no row.';
comment on column jobs.tier_retention_log.account_id is 'Account.';
comment on column jobs.tier_retention_log.as_of is 'The instant the run acted for.';
comment on column jobs.tier_retention_log.tier is 'The user''s tier when the account''s last batch ran.';
comment on column jobs.tier_retention_log.history is 'The history that tier keeps (jobs.tier_retention.history).';
comment on column jobs.tier_retention_log.cutoff_day is 'First New York day kept: rows of earlier days were removed.';
comment on column jobs.tier_retention_log.orders is 'Orders removed.';
comment on column jobs.tier_retention_log.order_events is 'Audit rows (mbt.order_events) removed with their orders.';
comment on column jobs.tier_retention_log.fills is 'Fills removed with their orders.';
comment on column jobs.tier_retention_log.cash_activities is 'Cash activities removed.';
comment on column jobs.tier_retention_log.account_snapshots is 'End-of-day account snapshots removed.';
comment on column jobs.tier_retention_log.position_snapshots is 'End-of-day position snapshots removed.';
comment on column jobs.tier_retention_log.trade_updates is 'Queued trade_updates messages of removed orders deleted.';
comment on column jobs.tier_retention_log.batches is 'Transactions (batches) that removed rows.';
comment on column jobs.tier_retention_log.started_at is 'Wall-clock time of the first batch that removed rows.';
comment on column jobs.tier_retention_log.finished_at is 'Wall-clock time of the last one.';

-- the run log names the new job
comment on column jobs.run_log.job is
'expire_day_orders, expire_gtc_orders, write_eod_snapshots, market_data_retention or tier_retention.';
comment on column jobs.run_log.rows_affected is
'Rows the run changed (orders expired, snapshots written, rows purged); 0 on a repeat.';
