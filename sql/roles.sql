-- Cluster-wide roles. Applied (idempotently, as a superuser) before any migration.
-- Roles are not part of a database, so they live outside sql/schema and sql/migrations.
do $roles$
declare
    v_role record;
begin
    for v_role in
        select r.name, r.options
        from (values
            ('dba', 'nologin'),             -- owns every schema, table and function; DBAs are granted it
            ('api_owner', 'nologin'),       -- owns the api views: not a table owner, so RLS applies to it
            ('authenticator', 'login noinherit'), -- PostgREST logs in as this and switches role per request
            ('web_anon', 'nologin'),        -- anonymous HTTP callers
            ('app_user', 'nologin'),        -- signed-in HTTP callers (JWT role claim)
            ('mbt_sessions', 'login'),      -- the sessions service
            ('mbt_jobs', 'login'),          -- scheduled jobs and queue workers
            ('analyst', 'login')            -- read-only analysts (analytics schema only)
        ) as r (name, options)
    loop
        if not exists (select from pg_catalog.pg_roles where rolname = v_role.name) then
            execute format('create role %I %s', v_role.name, v_role.options);
        end if;
    end loop;
end
$roles$;

grant web_anon to authenticator;
grant app_user to authenticator;
-- dba must be a member of api_owner to hand the api views to it
grant api_owner to dba;

-- analysts: read-only sessions in the analytics schema, each statement stopped after 30 s (a role
-- setting, applied at every log-in of the role in every database)
alter role analyst set default_transaction_read_only = on;
alter role analyst set statement_timeout = '30s';
alter role analyst set search_path = analytics;
