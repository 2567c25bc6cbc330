-- The nightly check of the ledger's truths (mbt.check_invariants) as a job: each violation goes to the
-- server log as a WARNING (the scheduler's connection logs it too), the first 100 in full, and the job
-- returns how many there were; jobs.run_job counts them in jobs.run_log.violations.
create or replace function jobs.report_invariant_violations(p_as_of timestamptz)
returns bigint
language plpgsql
volatile
set search_path = ''
as $$
declare
    c_logged constant integer := 100;
    v_violation record;
    v_count bigint := 0;
begin
    for v_violation in select v.account_id, v.invariant, v.details from mbt.check_invariants(p_as_of) as v loop
        v_count := v_count + 1;
        if v_count <= c_logged then
            raise warning 'invariant % violated in account % at %', v_violation.invariant, v_violation.account_id, p_as_of
                using detail = v_violation.details::text,
                hint = 'select * from mbt.check_invariants(''' || p_as_of || ''') lists every violation; docs/dba.md says what each means.';
        end if;
    end loop;
    if v_count > c_logged then
        raise warning '% more invariant violations at % (% in all)', v_count - c_logged, p_as_of, v_count;
    end if;
    return v_count;
end;
$$;
comment on function jobs.report_invariant_violations(timestamptz) is
'Run mbt.check_invariants(p_as_of), log each violation as a WARNING (the first 100 in full) and return how many there were.';
