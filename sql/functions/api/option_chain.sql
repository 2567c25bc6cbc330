-- GET /api/rpc/option_chain?underlying_symbol=AAPL&expiration_date_gte=...&type=call&strike_price_lte=...:
-- the contracts of Alpaca's GET /v2/options/contracts (multiplier and deliverables always shown),
-- each with its latest quote inside the caller's tier window (md.visible_latest_quote).
create function api.option_chain(
    underlying_symbol text,
    expiration_date_gte date default null,
    expiration_date_lte date default null,
    type text default null,
    strike_price_gte numeric default null,
    strike_price_lte numeric default null,
    page_size integer default 100,
    page_token text default null
)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
    select md.option_chain(md.request_tier(), now(), $1, $2, $3, $4, $5, $6, $7, $8)
$$;
comment on function api.option_chain(text, date, date, text, numeric, numeric, integer, text) is $$Option chain of an underlying
underlying_symbol; optional expiration_date_gte/lte, type (call or put), strike_price_gte/lte, page_size (1-10000, default 100; Alpaca's limit, which in PostgREST is its own ?limit=), page_token. Returns {"option_contracts": [{id, symbol, name, status, tradable, expiration_date, root_symbol, underlying_symbol, underlying_asset_id, type, style, strike_price, size, multiplier, deliverables, latest_quote}], "next_page_token", "feed"}. size and multiplier are the contract's own (not assumed 100); deliverables say what one contract delivers. latest_quote is the newest your tier sees, or null.$$;
