-- The ledger's invariants (mbt.check_invariants, SECURITY DEFINER) read every account's rows and name the
-- accounts by the ids the API shows: the nightly job (mbt_jobs, through jobs.run_job) and DBAs (members of
-- dba, its owner) may run it; analysts, who see accounts only under pseudonymous keys, and the web roles may not
-- (the nightly counts are in jobs.run_log).
grant execute on function mbt.check_invariants(timestamptz) to mbt_jobs;
