-- The ledger's invariants (mbt.check_invariants, SECURITY DEFINER) read every account's rows: the nightly
-- job (mbt_jobs, through jobs.run_job), analysts (read-only sessions; they see the account ids of the
-- violations only) and DBAs (members of dba, its owner) may run it; the web roles may not.
grant execute on function mbt.check_invariants(timestamptz) to mbt_jobs, analyst;
