-- GET /api/rpc/bars?symbol=AAPL&start=...&end=...&limit=1000&page_token=...: Alpaca's
-- GET /v2/stocks/{symbol}/bars?timeframe=1Min, inside the caller's tier window (md.requested_range).
-- A bar is visible once its minute is over before the window's end: bar_time + 1 minute <= visible_until.
create function api.bars(
    symbol text,
    start timestamptz default null,
    "end" timestamptz default null,
    page_size integer default 1000,
    page_token text default null,
    sort text default 'asc'
)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
    select md.bar_history(md.request_tier(), now(), $1, $2, $3, $4, $5, $6)
$$;
comment on function api.bars(text, timestamptz, timestamptz, integer, text, text) is $$One-minute bars of one symbol
start, end (RFC 3339, on the bar's start; default: the beginning of the day to the newest complete bar your tier sees), page_size (1-10000, default 1000; Alpaca's limit, which in PostgREST is its own ?limit=), page_token, sort (asc or desc). Returns {"bars": [{t, o, h, l, c, v, n, vw}], "symbol", "next_page_token", "feed"}. Data newer than your tier sees: MBD01, older: MBD02 (403).$$;
