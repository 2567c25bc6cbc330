-- 0024 invariants: tier retention carries the cash its purged rows moved (mbt.retention_carry.cash), so that
-- mbt.check_invariants' cash identity (cash = carried + kept fills + kept activities) holds after a purge,
-- and jobs.run_log counts the violations of the nightly check (sql/schema/90_invariants.sql).
alter table mbt.retention_carry add column cash numeric(20, 2) not null default 0;
comment on column mbt.retention_carry.cash is $$Cash the purged rows moved, USD: their fills (a buy -qty x price, a sell
+qty x price, each to the cent) and their cash activities that were not canceled (deposits, withdrawals, dividends, fees
...). The account's cash = this + what the kept fills and activities moved (mbt.check_invariants).$$;

-- Accounts purged before this migration: their purged rows are gone, so what they moved is what the kept
-- rows do not explain of the cash (the identity held when every row was kept).
update mbt.retention_carry as r
set
    cash = a.cash
    - coalesce((
        select sum(round(case when f.side = 'buy' then -f.qty * f.price else f.qty * f.price end, 2))
        from mbt.fills as f
        where f.account_id = r.account_id
    ), 0)
    - coalesce((
        select sum(c.net_amount)
        from mbt.cash_activities as c
        where c.account_id = r.account_id and c.status <> 'canceled'
    ), 0)
from mbt.accounts as a
where r.account_id = a.account_id;

alter table jobs.run_log add column violations bigint;
comment on column jobs.run_log.violations is
'check_invariants: the invariant violations the run found (0: clean; each one is logged); null for the other jobs.';

comment on column jobs.run_log.job is
'expire_day_orders, expire_gtc_orders, write_eod_snapshots, market_data_retention, tier_retention or check_invariants.';
