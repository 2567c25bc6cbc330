-- Accounts for analysts: under a pseudonymous key, with their tier and sign-up cohort, never an e-mail,
-- a name or an id the API shows. The analytics views are owned by dba, the owner of the tables, so they
-- read every account's rows (RLS does not apply to a table's owner); the analyst reaches them only here.
create view analytics.accounts as
select
    encode(substr(sha256(k.secret || uuid_send(a.account_id)), 1, 16), 'hex') as account_key,
    u.tier::text as tier,
    (a.created_at at time zone 'America/New_York')::date as signup_date,
    date_trunc('week', a.created_at at time zone 'America/New_York')::date as signup_week,
    date_trunc('month', a.created_at at time zone 'America/New_York')::date as signup_month,
    a.status::text as account_status,
    a.multiplier,
    a.fill_model::text as fill_model,
    coalesce(o.orders, 0) as orders,
    o.first_order_at,
    coalesce(f.fills, 0) as fills,
    f.first_fill_at
from mbt.accounts as a
inner join auth.users as u on a.user_id = u.user_id
cross join analytics.pseudonym_secret as k
left join lateral (
    select
        count(*) as orders,
        min(x.submitted_at) as first_order_at
    from mbt.orders as x
    where x.account_id = a.account_id
) as o on true
left join lateral (
    select
        count(*) as fills,
        min(y.transaction_time) as first_fill_at
    from mbt.fills as y
    where y.account_id = a.account_id
) as f on true;

comment on view analytics.accounts is $$One row per account, under a pseudonymous key: tier, sign-up cohort and trading activity.
No e-mail, name, account number or id: account_key is a keyed hash (the key is not readable by analysts), stable across runs.$$;
comment on column analytics.accounts.account_key is 'Pseudonymous account key (32 hex digits): the same in every analytics view, stable across deploys.';
comment on column analytics.accounts.tier is 'Current subscription tier: free, pro or pro_plus.';
comment on column analytics.accounts.signup_date is $$Sign-up day (the account opens at sign-up), New York date: no finer,
so that knowing when someone signed up does not single them out.$$;
comment on column analytics.accounts.signup_week is 'Sign-up week cohort: the Monday (New York date) of the sign-up week.';
comment on column analytics.accounts.signup_month is 'Sign-up month cohort: the first day (New York date) of the sign-up month.';
comment on column analytics.accounts.account_status is 'ACTIVE, ACCOUNT_CLOSED or DISABLED.';
comment on column analytics.accounts.multiplier is 'Buying-power multiplier (1 cash, 2 Reg T margin, 4 intraday), a count.';
comment on column analytics.accounts.fill_model is 'displayed_size (one quote fills at most its size) or full (Alpaca paper).';
comment on column analytics.accounts.orders is 'Orders the account has submitted (as retained), a count.';
comment on column analytics.accounts.first_order_at is 'When its first retained order was submitted, timestamptz; null if none.';
comment on column analytics.accounts.fills is 'Executions of the account (as retained), a count.';
comment on column analytics.accounts.first_fill_at is 'When its first retained execution happened, timestamptz; null if none.';
