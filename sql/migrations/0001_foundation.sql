-- 0001 foundation: schemas, auth (users, sessions, refresh tokens, log-in throttle), mbt.accounts.

-- Schemas, default privileges and shared types. One concern per schema (shared/DESIGN.md).
-- The api schema is not here: it holds only views and functions and is rebuilt on every deploy.

alter default privileges for role dba revoke execute on functions from public;

create schema auth;
comment on schema auth is 'Users, tiers and sessions. Written only by the sessions service through auth functions.';

create schema mbt;
comment on schema mbt is 'The paper brokerage: accounts and, later, orders, fills, positions and activities.';

create schema md;
comment on schema md is 'Market data: assets, option contracts, NBBO quotes, the market calendar.';

create schema jobs;
comment on schema jobs is 'Scheduled job functions and their run log.';

create schema analytics;
comment on schema analytics is 'Read-only analyst views without personal data.';

-- auth: users, tiers, sessions and the refresh-token chain of each session.

create type auth.tier as enum ('free', 'pro', 'pro_plus');
comment on type auth.tier is 'Subscription tier: market-data delay, history retention and the API rate limit follow it.';

create table auth.users (
    user_id uuid primary key default gen_random_uuid(),
    email text not null,
    password_hash text not null,
    tier auth.tier not null default 'free',
    created_at timestamptz not null default now(),
    password_changed_at timestamptz not null default now(),
    constraint users_email_is_normalised check (email = lower(btrim(email)))
);
create unique index users_email_key on auth.users (email);
comment on table auth.users is 'One row per person who signed up. Deleting it erases everything of theirs (cascade).';
comment on column auth.users.user_id is 'Stable user id; the JWT sub claim.';
comment on column auth.users.email is 'Log-in e-mail, stored lower-case and trimmed.';
comment on column auth.users.password_hash is 'Argon2id hash in PHC string format; the password itself is never stored.';
comment on column auth.users.tier is 'Subscription tier; a change applies from the next access token.';
comment on column auth.users.created_at is 'When the user signed up.';
comment on column auth.users.password_changed_at is 'When the password was last set.';

create table auth.sessions (
    user_id uuid not null references auth.users (user_id) on delete cascade,
    session_id uuid not null default gen_random_uuid(),
    created_at timestamptz not null default now(),
    refreshed_at timestamptz,
    expires_at timestamptz not null,
    revoked_at timestamptz,
    revoked_reason text,
    user_agent text,
    ip inet,
    primary key (user_id, session_id),
    constraint sessions_revocation_has_reason check ((revoked_at is null) = (revoked_reason is null)),
    constraint sessions_revoked_reason_known check (
        revoked_reason in ('logout', 'revoked_by_user', 'password_changed', 'refresh_token_reuse')
    ),
    constraint sessions_user_agent_length check (length(user_agent) <= 512)
);
create unique index sessions_session_id_key on auth.sessions (session_id);
comment on table auth.sessions is 'A signed-in device: the access token''s sid claim. Revoking it stops every token of the session on the next request.';
comment on column auth.sessions.user_id is 'Owner of the session.';
comment on column auth.sessions.session_id is 'The sid claim carried by the session''s access tokens.';
comment on column auth.sessions.created_at is 'When the session was opened (sign-up or log-in).';
comment on column auth.sessions.refreshed_at is 'When the refresh token was last rotated.';
comment on column auth.sessions.expires_at is 'End of the session: no refresh after it.';
comment on column auth.sessions.revoked_at is 'When the session was revoked; null while active.';
comment on column auth.sessions.revoked_reason is 'Why: logout, revoked_by_user, password_changed or refresh_token_reuse.';
comment on column auth.sessions.user_agent is 'User-Agent header at log-in, to tell devices apart in the session list.';
comment on column auth.sessions.ip is 'Client address at log-in.';

create table auth.refresh_tokens (
    user_id uuid not null,
    session_id uuid not null,
    generation integer not null,
    token_digest bytea not null,
    issued_at timestamptz not null default now(),
    used_at timestamptz,
    primary key (user_id, session_id, generation),
    foreign key (user_id, session_id) references auth.sessions (user_id, session_id) on delete cascade,
    constraint refresh_tokens_generation_positive check (generation > 0),
    constraint refresh_tokens_digest_is_sha256 check (length(token_digest) = 32)
);
comment on table auth.refresh_tokens is 'The rotation chain of each session''s refresh token. A used token presented again revokes its session.';
comment on column auth.refresh_tokens.user_id is 'Owner of the session.';
comment on column auth.refresh_tokens.session_id is 'Session the token belongs to.';
comment on column auth.refresh_tokens.generation is 'Position in the rotation chain, 1 for the token issued at log-in.';
comment on column auth.refresh_tokens.token_digest is 'SHA-256 of the token''s secret part; the token itself is never stored.';
comment on column auth.refresh_tokens.issued_at is 'When the token was issued.';
comment on column auth.refresh_tokens.used_at is 'When the token was exchanged for its successor; null while it is the current one.';

create table auth.login_throttle (
    email_digest bytea primary key,
    attempts integer not null default 0,
    window_started_at timestamptz not null,
    locked_until timestamptz,
    constraint login_throttle_digest_is_sha256 check (length(email_digest) = 32),
    constraint login_throttle_attempts_positive check (attempts > 0)
);
comment on table auth.login_throttle is 'Password attempts per e-mail (known or not), to slow down guessing. Cleared by a success.';
comment on column auth.login_throttle.email_digest is 'SHA-256 of the lower-case e-mail: throttles unknown e-mails without storing them.';
comment on column auth.login_throttle.attempts is 'Password attempts without a success in the current window.';
comment on column auth.login_throttle.window_started_at is 'Start of the current 15-minute window.';
comment on column auth.login_throttle.locked_until is 'No log-in attempt for this e-mail is checked before this time.';

-- mbt: the paper brokerage. Every user-data table carries account_id in its primary key (Citus-ready).

create type mbt.account_status as enum ('ACTIVE', 'ACCOUNT_CLOSED', 'DISABLED');
comment on type mbt.account_status is 'Alpaca account status values that apply to a paper account.';

create sequence mbt.account_number_seq start with 100000001;
comment on sequence mbt.account_number_seq is 'Source of the numeric part of account numbers.';

create table mbt.accounts (
    account_id uuid primary key default gen_random_uuid(),
    user_id uuid not null references auth.users (user_id) on delete cascade,
    account_number text not null default 'MB' || nextval('mbt.account_number_seq')::text,
    status mbt.account_status not null default 'ACTIVE',
    currency char(3) not null default 'USD',
    cash numeric(20, 2) not null,
    multiplier smallint not null default 2,
    shorting_enabled boolean not null default true,
    trade_suspended_by_user boolean not null default false,
    options_approved_level smallint not null default 2,
    created_at timestamptz not null default now(),
    constraint accounts_multiplier_known check (multiplier in (1, 2, 4)),
    constraint accounts_options_level_known check (options_approved_level between 0 and 3),
    constraint accounts_currency_usd check (currency = 'USD')
);
create unique index accounts_account_number_key on mbt.accounts (account_number);
create unique index accounts_one_per_user on mbt.accounts (user_id);
comment on table mbt.accounts is 'One simulated brokerage account (the paper book) per user, opened at sign-up.';
comment on column mbt.accounts.account_id is 'Account id (Alpaca: id); the shard key of every mbt table.';
comment on column mbt.accounts.user_id is 'Owner.';
comment on column mbt.accounts.account_number is 'Human-readable account number, MB followed by digits.';
comment on column mbt.accounts.status is 'Alpaca account status.';
comment on column mbt.accounts.currency is 'Account currency, ISO 4217 (USD only).';
comment on column mbt.accounts.cash is 'Cash balance in USD, to the cent.';
comment on column mbt.accounts.multiplier is 'Buying-power multiplier: 1 limited margin (cash), 2 Reg T margin, 4 intraday.';
comment on column mbt.accounts.shorting_enabled is 'Whether short selling is allowed.';
comment on column mbt.accounts.trade_suspended_by_user is 'The user paused trading on this account.';
comment on column mbt.accounts.options_approved_level is 'Options level approved: 0 none, 1 covered, 2 long, 3 spreads.';
comment on column mbt.accounts.created_at is 'When the account was opened.';
