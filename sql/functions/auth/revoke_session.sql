create or replace function auth.revoke_session(p_user_id uuid, p_session_id uuid, p_reason text)
returns boolean
language sql
volatile
security definer
set search_path = ''
as $$
    update auth.sessions as s
    set revoked_at = now(), revoked_reason = p_reason
    where s.user_id = p_user_id and s.session_id = p_session_id
        and s.revoked_at is null and s.expires_at > now()
    returning true
$$;
comment on function auth.revoke_session(uuid, uuid, text) is
'Revoke one active session of a user; true if it was active. Takes effect on the next request.';
