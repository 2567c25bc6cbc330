-- Grants and row-level security of the order lifecycle (issue 6): the cash ledger, the end-of-day
-- snapshots, the activity / portfolio-history / close-position api functions, and the scheduled jobs.

alter table mbt.cash_activities enable row level security;
alter table mbt.account_snapshots enable row level security;
alter table mbt.position_snapshots enable row level security;

create policy "account holders see their own cash activities" on mbt.cash_activities
for select to api_owner
using (account_id in (
    select a.account_id from mbt.accounts as a
    where a.user_id = (select auth.current_user_id())
));

create policy "account holders see their own account snapshots" on mbt.account_snapshots
for select to api_owner
using (account_id in (
    select a.account_id from mbt.accounts as a
    where a.user_id = (select auth.current_user_id())
));

create policy "account holders see their own position snapshots" on mbt.position_snapshots
for select to api_owner
using (account_id in (
    select a.account_id from mbt.accounts as a
    where a.user_id = (select auth.current_user_id())
));

-- HTTP callers: the functions (each works on the caller's own account)
grant execute on function
api.account_activities(text, text, text, text, text, text, text, text, text),
api.portfolio_history(text, text, text),
api.close_position(text, text, text),
api.close_all_positions(text)
to app_user;

-- api.positions shows the previous close (api.position_marks reads the snapshots and the calendar)
grant select on mbt.position_snapshots to api_owner;
grant select on md.market_calendar to api_owner;

-- The scheduler (mbt_jobs): the job entry points only; they log their runs in jobs.run_log
grant usage on schema jobs to mbt_jobs;
grant execute on function
jobs.due_runs(timestamptz, timestamptz),
jobs.missed_runs(timestamptz, timestamptz),
jobs.run_job(text, timestamptz),
jobs.record_failure(text, timestamptz, timestamptz, text),
jobs.last_run_as_of()
to mbt_jobs;
grant select on jobs.run_log to mbt_jobs;
