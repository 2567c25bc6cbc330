create or replace function auth.refresh_token_is_current(p_user_id uuid, p_session_id uuid, p_digest bytea)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
    select exists (
        select
        from auth.refresh_tokens as r
        where r.user_id = p_user_id and r.session_id = p_session_id and r.token_digest = p_digest
            and r.used_at is null
    )
$$;
comment on function auth.refresh_token_is_current(uuid, uuid, bytea) is
'True if the digest is the session''s current (unused) refresh token: proves the session is the caller''s, for log-out.';
