-- The ledger's invariants (issue 17 part 7, mbt.check_invariants): what tier retention carries forward
-- of the cash its purged rows moved, so that cash = the carried cash + the kept ledger still holds after
-- a purge; and the nightly check's count in the run log.

alter table mbt.retention_carry add column cash numeric(20, 2) not null default 0;
comment on column mbt.retention_carry.cash is $$Cash the purged rows moved, USD: their fills (a buy -qty x price, a sell
+qty x price, each to the cent) and their cash activities that were not canceled (deposits, withdrawals, dividends, fees
...). The account's cash = this + what the kept fills and activities moved (mbt.check_invariants).$$;

alter table jobs.run_log add column violations bigint;
comment on column jobs.run_log.violations is
'check_invariants: the invariant violations the run found (0: clean; each one is logged); null for the other jobs.';

comment on column jobs.run_log.job is
'expire_day_orders, expire_gtc_orders, write_eod_snapshots, market_data_retention, tier_retention or check_invariants.';
