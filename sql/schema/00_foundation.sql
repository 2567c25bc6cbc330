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
