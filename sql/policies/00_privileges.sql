-- Grants, re-applied whole on every deploy. Revoke by default, grant what each role needs.
-- The web roles reach only the api schema, plus the pre-request hook PostgREST calls for them.

revoke all on schema auth, mbt, md, jobs, analytics from public;
revoke all on all tables in schema auth, mbt, md, jobs, analytics from public;
revoke all on all functions in schema auth, mbt, md, jobs, analytics from public;
-- pgmq is installed before our default privileges exist: close its functions too
revoke all on all functions in schema pgmq from public;

-- HTTP callers: api views and functions only
grant usage on schema api to web_anon, app_user;
grant select on api.account, api.orders, api.positions, api.fills to app_user;
grant execute on function api.submit_order(jsonb), api.cancel_order(uuid), api.replace_order(uuid, jsonb),
api.cancel_all_orders(), api.list_orders(text, integer, timestamptz, timestamptz, text, boolean, text, text) to app_user;
grant execute on function api.ping() to web_anon, app_user;

-- PostgREST's db-pre-request hook runs as the caller's role, and so do functions that policies call
-- (PostgreSQL checks EXECUTE against the querying role even inside a view)
grant usage on schema auth to web_anon, app_user;
grant execute on function auth.check_request(), auth.current_user_id() to web_anon, app_user;

-- api views are owned by api_owner, which is not the table owner: RLS decides which rows it sees
grant usage on schema auth, mbt to api_owner;
grant usage, create on schema api to api_owner;
grant select on mbt.accounts, mbt.orders, mbt.fills, mbt.positions to api_owner;
grant usage on schema md to api_owner;
grant select on md.assets, md.latest_quotes to api_owner;
grant execute on function auth.current_user_id() to api_owner;
alter view api.account owner to api_owner;
alter view api.orders owner to api_owner;
alter view api.positions owner to api_owner;
alter view api.fills owner to api_owner;
alter view api.position_marks owner to api_owner;
-- the rules the api views apply: pure functions of their arguments, read no table
grant usage on schema mbt to web_anon, app_user;
grant execute on function
mbt.mark_price(numeric, numeric, numeric),
mbt.initial_margin(numeric, boolean),
mbt.maintenance_margin(numeric, numeric, numeric),
mbt.buying_power(smallint, numeric, numeric, numeric, numeric),
mbt.cash_buying_power(numeric, numeric, numeric, numeric)
to app_user, api_owner;
-- the caller's day-trading figures (GET /api/account calls it too, as the caller)
grant execute on function api.intraday_margin() to app_user, api_owner;

-- The sessions service: auth functions only, no table
grant usage on schema auth, mbt to mbt_sessions;
grant execute on function
auth.sign_up(text, text, bytea, interval, text, inet),
auth.begin_login(text),
auth.end_login(text, boolean),
auth.refresh_token_is_current(uuid, uuid, bytea),
auth.open_session(uuid, bytea, interval, text, inet),
auth.rotate_refresh_token(uuid, uuid, bytea, bytea),
auth.session_is_active(uuid, uuid),
auth.list_sessions(uuid),
auth.revoke_session(uuid, uuid, text),
auth.user_profile(uuid),
auth.change_password(uuid, uuid, text),
auth.rehash_password(uuid, text),
auth.erase_user(uuid),
mbt.error_catalogue()
to mbt_sessions;

-- Scheduled jobs and queue workers (a trusted internal role): the queue functions, and the
-- trade_updates queue's table (pgmq.read updates visibility, pgmq.delete deletes)
grant usage on schema pgmq to mbt_jobs;
grant execute on all functions in schema pgmq to mbt_jobs;
grant select, update, delete on pgmq.q_trade_updates to mbt_jobs;

-- The ingestor and the maintenance jobs: the quote store and its partitions
grant usage on schema md to mbt_jobs;
grant insert on md.quotes to mbt_jobs;
grant execute on function md.ensure_quote_partitions(date, date), md.drop_quote_partitions(date) to mbt_jobs;
