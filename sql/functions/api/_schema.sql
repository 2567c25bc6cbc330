-- The HTTP surface. It holds only views and functions, so every deploy drops it and rebuilds it
-- from these files (mbtctl.migrate.deploy): the API can change without migrating data.
create schema api;
comment on schema api is $$MBT paper-trading API
Your simulated brokerage account: fills against real NBBO quotes, with Alpaca's field names.
Sign up and log in at /api/sessions; send the access token as "Authorization: Bearer <token>" (or the session cookie).$$;
