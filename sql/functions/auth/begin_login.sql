-- Every password check (log-in, or re-entering the password to confirm a sensitive step) starts
-- here, before the slow hash runs. The attempt is counted atomically (the upsert locks the e-mail's
-- row), so a burst of parallel guesses gets no more checks than a patient guesser:
-- at most 5 unsuccessful attempts per e-mail (known or not) in 15 minutes; then the e-mail is
-- locked for 30 s, doubling with each further attempt, at most 15 minutes. auth.end_login clears
-- the count on success. The doubling stops at the cap (30 s x 2^5 = 16 min is past it): a guesser keeps
-- counting while locked, and 30 s x 2^39 (the 45th attempt) was beyond what an interval can hold.
create or replace function auth.begin_login(p_email text)
returns table (user_id uuid, password_hash text, retry_after_seconds integer)
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    c_free_attempts constant integer := 5;
    c_window constant interval := interval '15 minutes';
    c_doublings_to_cap constant integer := 5;
    v_row auth.login_throttle;
begin
    insert into auth.login_throttle as t (email_digest, attempts, window_started_at)
    values (auth.email_digest(p_email), 1, now())
    on conflict (email_digest) do update
    set attempts = case when t.window_started_at < now() - c_window then 1 else t.attempts + 1 end,
        window_started_at = case when t.window_started_at < now() - c_window then now() else t.window_started_at end
    returning * into v_row;

    if v_row.attempts > c_free_attempts and coalesce(v_row.locked_until, '-infinity') <= now() then
        update auth.login_throttle as t
        set locked_until = now() + least(
            c_window, interval '30 seconds' * power(2, least(v_row.attempts - c_free_attempts - 1, c_doublings_to_cap))
        )
        where t.email_digest = v_row.email_digest
        returning * into v_row;
    end if;
    if v_row.locked_until > now() then
        return query select null::uuid, null::text, ceil(extract(epoch from v_row.locked_until - now()))::integer;
        return;
    end if;

    return query
    select u.user_id, u.password_hash, 0
    from (select 1) as one
    left join auth.users as u on u.email = lower(btrim(p_email));
end;
$$;
comment on function auth.begin_login(text) is
'Count a password attempt for an e-mail and return the seconds to wait if it is locked, else the user id and password hash (null if unknown).';
