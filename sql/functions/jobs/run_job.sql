-- The scheduled jobs' entry points (jobs/scheduler.py calls them as mbt_jobs). Each run acts for an
-- explicit instant (as_of, from md.market_calendar), is idempotent (a repeat changes nothing), and is
-- recorded in jobs.run_log with what it changed.

-- When each job acts, between two instants: day-order expiry at the end of the opening auction window
-- (opg, open + 1 minute), at the close (day, cls) and at the end of after-hours (extended_hours day
-- orders); the end-of-day snapshot at the close; gtc expiry every day at 16:15 ET; market-data
-- retention at 20:30 ET, tier retention at 20:45 ET and the check of the ledger's invariants at 21:30 ET
-- every day.
create or replace function jobs.due_runs(p_after timestamptz, p_until timestamptz)
returns table (job text, as_of timestamptz)
language sql
stable
security definer
set search_path = ''
as $$
    select r.job, r.as_of
    from (
        select 'expire_day_orders' as job, c.market_open + interval '1 minute' as as_of, 1 as step
        from md.market_calendar as c
        union all
        select 'expire_day_orders', c.market_close, 1 from md.market_calendar as c
        union all
        select 'write_eod_snapshots', c.market_close, 2 from md.market_calendar as c
        union all
        select 'expire_day_orders', c.session_close, 1 from md.market_calendar as c
        union all
        select 'expire_gtc_orders', (d::date + time '16:15') at time zone 'America/New_York', 1
        from generate_series(
            (p_after at time zone 'America/New_York')::date, (p_until at time zone 'America/New_York')::date, interval '1 day'
        ) as d
        union all
        -- market-data partitions dropped and made ahead when no session runs (dropping one locks md.quotes)
        select 'market_data_retention', (d::date + time '20:30') at time zone 'America/New_York', 3
        from generate_series(
            (p_after at time zone 'America/New_York')::date, (p_until at time zone 'America/New_York')::date, interval '1 day'
        ) as d
        union all
        -- tier retention after market-data retention, when no session runs (jobs/tier_retention.py batches it)
        select 'tier_retention', (d::date + time '20:45') at time zone 'America/New_York', 4
        from generate_series(
            (p_after at time zone 'America/New_York')::date, (p_until at time zone 'America/New_York')::date, interval '1 day'
        ) as d
        union all
        -- the ledger's truths, after the day's changes and the purges
        select 'check_invariants', (d::date + time '21:30') at time zone 'America/New_York', 5
        from generate_series(
            (p_after at time zone 'America/New_York')::date, (p_until at time zone 'America/New_York')::date, interval '1 day'
        ) as d
    ) as r
    where r.as_of > p_after and r.as_of <= p_until
    order by r.as_of, r.step, r.job
$$;
comment on function jobs.due_runs(timestamptz, timestamptz) is
'The runs due in (p_after, p_until]: (job, as_of) in time order, from md.market_calendar (early closes included).';

-- The due runs that have no successful run in the log: what a restarted scheduler catches up on.
create or replace function jobs.missed_runs(p_after timestamptz, p_until timestamptz)
returns table (job text, as_of timestamptz)
language sql
stable
security definer
set search_path = ''
as $$
    select d.job, d.as_of
    from jobs.due_runs(p_after, p_until) with ordinality as d (job, as_of, n)
    where not exists (
        select from jobs.run_log as r where r.job = d.job and r.as_of = d.as_of and r.error is null
    )
    order by d.n
$$;
comment on function jobs.missed_runs(timestamptz, timestamptz) is
'The runs due in (p_after, p_until] that jobs.run_log has no successful run of, in time order.';

create or replace function jobs.run_job(p_job text, p_as_of timestamptz)
returns bigint
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_started timestamptz := clock_timestamp();
    v_rows bigint;
    v_violations bigint;
begin
    if p_as_of is null then
        raise exception 'jobs.run_job: as_of is required (the instant the run acts for)';
    end if;
    v_rows := case p_job
        when 'expire_day_orders' then mbt.expire_day_orders(p_as_of)
        when 'expire_gtc_orders' then mbt.expire_gtc_orders(p_as_of)
        when 'write_eod_snapshots' then mbt.write_eod_snapshots(p_as_of)
        when 'market_data_retention' then (
            select r.partitions_dropped + r.bars_deleted + r.partitions_created
            from md.apply_market_data_retention(p_as_of) as r
        )
        when 'tier_retention' then mbt.apply_tier_retention(p_as_of)
        when 'check_invariants' then 0  -- reads only
    end;
    if v_rows is null then
        raise exception 'jobs.run_job: unknown job %', p_job
            using hint = 'expire_day_orders, expire_gtc_orders, write_eod_snapshots, market_data_retention, tier_retention '
                || 'or check_invariants.';
    end if;
    if p_job = 'check_invariants' then
        v_violations := jobs.report_invariant_violations(p_as_of);
    end if;
    insert into jobs.run_log (job, as_of, rows_affected, started_at, finished_at, violations)
    values (p_job, p_as_of, v_rows, v_started, clock_timestamp(), v_violations);
    return coalesce(v_violations, v_rows);
end;
$$;
comment on function jobs.run_job(text, timestamptz) is
$$Run one job for the instant p_as_of and log it in jobs.run_log; returns the rows it changed (0 on a repeat), or for
check_invariants the violations it found (0: clean).$$;

create or replace function jobs.record_failure(p_job text, p_as_of timestamptz, p_started_at timestamptz, p_error text)
returns void
language sql
volatile
security definer
set search_path = ''
as $$
    insert into jobs.run_log (job, as_of, started_at, finished_at, error)
    values (p_job, p_as_of, p_started_at, clock_timestamp(), p_error)
$$;
comment on function jobs.record_failure(text, timestamptz, timestamptz, text) is
'Log a run that failed (its transaction rolled back, so nothing else changed).';

-- A run a job's own driver did in several transactions (jobs/tier_retention.py), logged when it is done.
create or replace function jobs.record_run(p_job text, p_as_of timestamptz, p_rows bigint, p_started_at timestamptz)
returns void
language sql
volatile
security definer
set search_path = ''
as $$
    insert into jobs.run_log (job, as_of, rows_affected, started_at, finished_at)
    values (p_job, p_as_of, p_rows, p_started_at, clock_timestamp())
$$;
comment on function jobs.record_run(text, timestamptz, bigint, timestamptz) is
'Log a successful run that its driver committed in batches (tier_retention): the rows it changed in all of them.';

create or replace function jobs.last_run_as_of()
returns timestamptz
language sql
stable
security definer
set search_path = ''
as $$
    select max(r.as_of) from jobs.run_log as r where r.error is null
$$;
comment on function jobs.last_run_as_of() is 'The latest instant a job ran for successfully (a restarted scheduler catches up from a day before it).';
