-- GET /api/rpc/latest_quotes?symbols=AAPL,MSFT: Alpaca's GET /v2/stocks/quotes/latest, tier-gated.
create function api.latest_quotes(
    symbols text
)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
    select md.latest_quotes_json(md.request_tier(), now(), $1)
$$;
comment on function api.latest_quotes(text) is $$Latest quotes
symbols: comma-separated. Returns {"quotes": {"AAPL": {t, bx, bp, bs, ax, ap, as, c, z}}, "feed"}; symbols without a visible quote are left out. Free sees the newest quote at least 15 minutes old (feed delayed_sip), Pro and Pro+ the newest (feed sip).$$;
