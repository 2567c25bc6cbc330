-- Row-level security on every table with user data, re-applied whole on every deploy.
-- Policies key on the verified JWT's sub claim, wrapped in a sub-select so it is evaluated once.
-- Functions that write (the auth functions, the engine's entry points) are SECURITY DEFINER,
-- owned by the table owner (dba), and see every row; web callers reach tables only through views.

alter table auth.users enable row level security;
alter table auth.sessions enable row level security;
alter table auth.refresh_tokens enable row level security;
alter table auth.login_throttle enable row level security;
alter table mbt.accounts enable row level security;
alter table mbt.orders enable row level security;
alter table mbt.fills enable row level security;
alter table mbt.positions enable row level security;
alter table mbt.order_events enable row level security;

drop policy if exists "users see their own user row" on auth.users;
create policy "users see their own user row" on auth.users
for select to app_user, api_owner
using (user_id = (select auth.current_user_id()));

drop policy if exists "users see their own sessions" on auth.sessions;
create policy "users see their own sessions" on auth.sessions
for select to app_user, api_owner
using (user_id = (select auth.current_user_id()));

drop policy if exists "users see their own refresh tokens" on auth.refresh_tokens;
create policy "users see their own refresh tokens" on auth.refresh_tokens
for select to app_user, api_owner
using (user_id = (select auth.current_user_id()));

drop policy if exists "no web caller reads login throttles" on auth.login_throttle;
create policy "no web caller reads login throttles" on auth.login_throttle
for select to app_user, api_owner
using (false);

drop policy if exists "account holders see their own account" on mbt.accounts;
create policy "account holders see their own account" on mbt.accounts
for select to api_owner
using (user_id = (select auth.current_user_id()));

create policy "account holders see their own orders" on mbt.orders
for select to api_owner
using (account_id in (
    select a.account_id from mbt.accounts as a
    where a.user_id = (select auth.current_user_id())
));

create policy "account holders see their own fills" on mbt.fills
for select to api_owner
using (account_id in (
    select a.account_id from mbt.accounts as a
    where a.user_id = (select auth.current_user_id())
));

create policy "account holders see their own positions" on mbt.positions
for select to api_owner
using (account_id in (
    select a.account_id from mbt.accounts as a
    where a.user_id = (select auth.current_user_id())
));

create policy "account holders see their own order events" on mbt.order_events
for select to api_owner
using (account_id in (
    select a.account_id from mbt.accounts as a
    where a.user_id = (select auth.current_user_id())
));
