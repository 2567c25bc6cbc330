-- Sign-up: the user, their paper account and their first session, in one transaction.
-- The sessions service hashes the password and the refresh token; neither reaches the database in clear.
create or replace function auth.sign_up(
    p_email text,
    p_password_hash text,
    p_refresh_token_digest bytea,
    p_session_lifetime interval,
    p_user_agent text default null,
    p_ip inet default null
)
returns table (user_id uuid, session_id uuid, tier auth.tier, account_id uuid, expires_at timestamptz)
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_email text := lower(btrim(p_email));
    v_user auth.users;
    v_account mbt.accounts;
begin
    if not auth.is_valid_email(v_email) then
        perform mbt.raise_error(
            'MBV06', 'That is not a valid e-mail address.',
            format('email = %s', left(p_email, 80)),
            'Use an address of the form name@example.com, at most 254 characters.'
        );
    end if;
    begin
        insert into auth.users (email, password_hash)
        values (v_email, p_password_hash)
        returning * into v_user;
    exception when unique_violation then
        perform mbt.raise_error(
            'MBA02', 'An account with this e-mail already exists.', null,
            'Log in instead (POST /api/sessions/login).'
        );
    end;
    v_account := mbt.open_account(v_user.user_id);
    return query
    select o.user_id, o.session_id, v_user.tier, v_account.account_id, o.expires_at
    from auth.open_session(v_user.user_id, p_refresh_token_digest, p_session_lifetime, p_user_agent, p_ip) as o;
end;
$$;
comment on function auth.sign_up(text, text, bytea, interval, text, inet) is
'Create a user, open their paper account and their first session, atomically. Raises MBV06 (bad e-mail) or MBA02 (taken).';
