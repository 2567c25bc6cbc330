-- Tier retention (issue 7 part 3): the carried-forward figures are user data under row-level security
-- (nobody reads them over HTTP; the engine's SECURITY DEFINER functions read them as owner). The
-- scheduler (mbt_jobs) runs the purge through its functions and reads its log.

alter table mbt.retention_carry enable row level security;
alter table mbt.retention_positions enable row level security;

create policy "account holders see their own retention carry" on mbt.retention_carry
for select to api_owner
using (account_id in (
    select a.account_id from mbt.accounts as a
    where a.user_id = (select auth.current_user_id())
));

create policy "account holders see their own retained positions" on mbt.retention_positions
for select to api_owner
using (account_id in (
    select a.account_id from mbt.accounts as a
    where a.user_id = (select auth.current_user_id())
));

grant execute on function
mbt.tier_retention_due(timestamptz),
mbt.purge_expired_history(uuid[], timestamptz, integer),
mbt.purge_orphan_trade_updates(timestamptz),
mbt.apply_tier_retention(timestamptz, integer),
jobs.record_run(text, timestamptz, bigint, timestamptz)
to mbt_jobs;
grant select on jobs.tier_retention, jobs.tier_retention_log to mbt_jobs;
