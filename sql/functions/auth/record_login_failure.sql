-- Count a failed log-in for an e-mail (known or not). From the 5th failure within 15 minutes the
-- e-mail is locked for 30 s, doubling with each further failure, at most 15 minutes.
create or replace function auth.record_login_failure(p_email text)
returns integer
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    c_free_failures constant integer := 4;
    c_window constant interval := interval '15 minutes';
    v_row auth.login_throttle;
begin
    insert into auth.login_throttle as t (email_digest, failures, first_failed_at)
    values (sha256(convert_to(lower(btrim(p_email)), 'UTF8')), 1, now())
    on conflict (email_digest) do update
    set failures = case when t.first_failed_at < now() - c_window then 1 else t.failures + 1 end,
        first_failed_at = case when t.first_failed_at < now() - c_window then now() else t.first_failed_at end
    returning * into v_row;

    if v_row.failures > c_free_failures then
        update auth.login_throttle as t
        set locked_until = now() + least(
            c_window, interval '30 seconds' * power(2, v_row.failures - c_free_failures - 1)
        )
        where t.email_digest = v_row.email_digest
        returning * into v_row;
        return ceil(extract(epoch from v_row.locked_until - now()))::integer;
    end if;
    return 0;
end;
$$;
comment on function auth.record_login_failure(text) is
'Count a failed log-in; returns the seconds the e-mail is now locked for (0 while under 5 failures in 15 min).';
