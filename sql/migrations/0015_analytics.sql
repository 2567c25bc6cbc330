-- 0015 analytics: the secret behind the analysts' pseudonymous keys (issue 7). The views themselves are
-- stateless, in sql/functions/analytics; the grants in sql/policies/50_analytics.sql.

create table analytics.pseudonym_secret (
    singleton boolean primary key default true,
    secret bytea not null,
    created_at timestamptz not null default now(),
    constraint pseudonym_secret_one_row check (singleton),
    constraint pseudonym_secret_length check (length(secret) = 32)
);
comment on table analytics.pseudonym_secret is $$The one key of the analysts' pseudonyms (account_key, order_key, fill_key):
made once, at random, when the schema is created, so the keys are stable across runs and deploys. Never granted to analyst.$$;
comment on column analytics.pseudonym_secret.singleton is 'Always true: the table holds one row.';
comment on column analytics.pseudonym_secret.secret is '32 random bytes (two gen_random_uuid(), from the server''s strong random source).';
comment on column analytics.pseudonym_secret.created_at is 'When the key was made.';

insert into analytics.pseudonym_secret (secret)
values (uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid()));
