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
