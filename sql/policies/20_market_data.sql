-- Market data: grants for tier-gated delivery and retention, re-applied whole on every deploy.
-- Assets are reference data without prices: anonymous callers may read them. Quotes, bars and
-- option chains need a signed-in caller; the api functions (SECURITY DEFINER) read md and apply
-- the caller's tier window (md.quote_window) themselves.
grant select on api.assets to web_anon, app_user;
alter view api.assets owner to api_owner;
grant select on md.option_contracts to api_owner;
grant execute on function
api.market_data_window(),
api.latest_quotes(text),
api.quotes(text, timestamptz, timestamptz, integer, text, text),
api.bars(text, timestamptz, timestamptz, integer, text, text),
api.option_chain(text, date, date, text, numeric, numeric, integer, text)
to app_user;

-- The maintenance job: retention and the partitions ahead
grant execute on function md.apply_market_data_retention(timestamptz, integer, integer) to mbt_jobs;
