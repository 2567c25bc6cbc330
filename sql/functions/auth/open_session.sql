-- Open a session with the first refresh token of its chain (after the password was verified).
create or replace function auth.open_session(
    p_user_id uuid,
    p_refresh_token_digest bytea,
    p_session_lifetime interval,
    p_user_agent text default null,
    p_ip inet default null
)
returns table (user_id uuid, session_id uuid, tier auth.tier, expires_at timestamptz)
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_session auth.sessions;
    v_user auth.users;
begin
    select * into strict v_user from auth.users as u where u.user_id = p_user_id;
    insert into auth.sessions (user_id, expires_at, user_agent, ip)
    values (p_user_id, now() + p_session_lifetime, left(p_user_agent, 512), p_ip)
    returning * into v_session;
    insert into auth.refresh_tokens (user_id, session_id, generation, token_digest)
    values (p_user_id, v_session.session_id, 1, p_refresh_token_digest);
    return query select v_session.user_id, v_session.session_id, v_user.tier, v_session.expires_at;
end;
$$;
comment on function auth.open_session(uuid, bytea, interval, text, inet) is
'Open a session for a user whose password was verified; stores the digest of its first refresh token.';
