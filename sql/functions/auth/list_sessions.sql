create or replace function auth.list_sessions(p_user_id uuid)
returns table (
    session_id uuid, created_at timestamptz, refreshed_at timestamptz, expires_at timestamptz,
    user_agent text, ip inet
)
language sql
stable
security definer
set search_path = ''
as $$
    select s.session_id, s.created_at, s.refreshed_at, s.expires_at, s.user_agent, s.ip
    from auth.sessions as s
    where s.user_id = p_user_id and s.revoked_at is null and s.expires_at > now()
    order by s.created_at desc
$$;
comment on function auth.list_sessions(uuid) is 'The active sessions (signed-in devices) of a user, newest first.';
