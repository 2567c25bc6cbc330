-- Exchange a refresh token for its successor. Outcomes:
--   rotated  the presented token was the current one: it is marked used, the new digest is stored;
--   reused   the presented token was already used: someone replayed it, the whole session is revoked;
--   invalid  unknown token, or the session is revoked or expired.
-- Never raises on reuse, so the revocation commits.
create or replace function auth.rotate_refresh_token(
    p_user_id uuid,
    p_session_id uuid,
    p_presented_digest bytea,
    p_new_digest bytea
)
returns table (outcome text, tier auth.tier, expires_at timestamptz)
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_session auth.sessions;
    v_token auth.refresh_tokens;
begin
    select * into v_session
    from auth.sessions as s
    where s.user_id = p_user_id and s.session_id = p_session_id
    for update;
    if not found or v_session.revoked_at is not null or v_session.expires_at <= now() then
        return query select 'invalid', null::auth.tier, null::timestamptz;
        return;
    end if;

    select * into v_token
    from auth.refresh_tokens as r
    where r.user_id = p_user_id and r.session_id = p_session_id and r.token_digest = p_presented_digest;
    if not found then
        return query select 'invalid', null::auth.tier, null::timestamptz;
        return;
    end if;
    if v_token.used_at is not null then
        update auth.sessions as s
        set revoked_at = now(), revoked_reason = 'refresh_token_reuse'
        where s.user_id = p_user_id and s.session_id = p_session_id;
        return query select 'reused', null::auth.tier, null::timestamptz;
        return;
    end if;

    update auth.refresh_tokens as r
    set used_at = now()
    where r.user_id = p_user_id and r.session_id = p_session_id and r.generation = v_token.generation;
    insert into auth.refresh_tokens (user_id, session_id, generation, token_digest)
    values (p_user_id, p_session_id, v_token.generation + 1, p_new_digest);
    update auth.sessions as s
    set refreshed_at = now()
    where s.user_id = p_user_id and s.session_id = p_session_id;

    return query
    select 'rotated', u.tier, v_session.expires_at
    from auth.users as u
    where u.user_id = p_user_id;
end;
$$;
comment on function auth.rotate_refresh_token(uuid, uuid, bytea, bytea) is
'Rotate a session''s refresh token: rotated, reused (session revoked: replay detected) or invalid.';
