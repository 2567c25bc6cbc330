-- First step of a log-in: is this e-mail throttled, and if not, whose password hash to verify.
-- Returns one row; user_id and password_hash are null for an unknown e-mail (the service then
-- verifies against a dummy hash, so timing does not reveal whether the e-mail exists).
create or replace function auth.login_candidate(p_email text)
returns table (user_id uuid, password_hash text, retry_after_seconds integer)
language sql
stable
security definer
set search_path = ''
as $$
    select u.user_id, u.password_hash,
        coalesce(ceil(extract(epoch from t.locked_until - now()))::integer, 0) as retry_after_seconds
    from (select lower(btrim(p_email)) as email) as e
    left join auth.login_throttle as t
        on t.email_digest = sha256(convert_to(e.email, 'UTF8')) and t.locked_until > now()
    left join auth.users as u on u.email = e.email and t.locked_until is null
$$;
comment on function auth.login_candidate(text) is
'Log-in step 1: seconds to wait if the e-mail is throttled, else the user id and password hash (null if unknown).';
