create or replace function auth.session_is_active(p_user_id uuid, p_session_id uuid)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
    select exists (
        select
        from auth.sessions as s
        where s.user_id = p_user_id and s.session_id = p_session_id
            and s.revoked_at is null and s.expires_at > now()
    )
$$;
comment on function auth.session_is_active(uuid, uuid) is
'True while the session is neither revoked nor expired: the sessions service''s revocation check.';
