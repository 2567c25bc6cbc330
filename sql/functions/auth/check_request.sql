-- PostgREST db-pre-request hook: runs before every API request, in its transaction.
-- A signed-in request must belong to a session that is neither revoked nor expired, so a
-- revocation takes effect on the very next request even when PostgREST is reached directly.
create or replace function auth.check_request()
returns void
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
    v_claims jsonb := nullif(current_setting('request.jwt.claims', true), '')::jsonb;
    v_uuid_pattern constant text := '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$';
begin
    if v_claims is null or v_claims ->> 'role' is distinct from 'app_user' then
        return;
    end if;
    if coalesce(v_claims ->> 'sub', '') !~ v_uuid_pattern or coalesce(v_claims ->> 'sid', '') !~ v_uuid_pattern
        or not exists (
            -- auth.session_is_active's test, written out: called as a SQL function it would be parsed and
            -- planned again on every request, where this query keeps its plan for the connection
            select
            from auth.sessions as s
            where s.user_id = (v_claims ->> 'sub')::uuid and s.session_id = (v_claims ->> 'sid')::uuid
                and s.revoked_at is null and s.expires_at > now()
        ) then
        perform mbt.raise_error(
            'MBA05', 'Your session has ended.',
            'The session of this access token was revoked or has expired.',
            'Log in again (POST /api/sessions/login).'
        );
    end if;
end;
$$;
comment on function auth.check_request() is
'PostgREST pre-request hook: rejects signed-in requests whose session is revoked or expired (HTTP 401, MBA05).';
