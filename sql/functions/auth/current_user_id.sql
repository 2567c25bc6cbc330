-- The signed-in user of this request: the sub claim of the verified JWT (PostgREST sets
-- request.jwt.claims). Null for anonymous callers. Wrap it as (select auth.current_user_id())
-- in policies so it runs once per statement.
create or replace function auth.current_user_id()
returns uuid
language sql
stable
as $$
    select nullif(nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub', '')::uuid
$$;
comment on function auth.current_user_id() is
'The user id (JWT sub claim) of the current HTTP request, or null when anonymous.';
