-- GET /api/rpc/quotes?symbol=AAPL&start=...&end=...&limit=1000&page_token=...&sort=asc: Alpaca's
-- GET /v2/stocks/{symbol}/quotes, inside the caller's tier window (md.requested_range). Keyset
-- paging on (quote_time, quote_id): the (symbol, quote_time) index of each day partition.
create function api.quotes(
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
    select md.quote_history(md.request_tier(), now(), $1, $2, $3, $4, $5, $6)
$$;
comment on function api.quotes(text, timestamptz, timestamptz, integer, text, text) is $$Historical quotes of one symbol
start, end (RFC 3339, inclusive; default: the beginning of the day to the newest your tier sees), page_size (1-10000, default 1000; Alpaca's limit, which in PostgREST is its own ?limit=), page_token (the previous page's next_page_token), sort (asc or desc). Returns {"quotes": [{t, bx, bp, bs, ax, ap, as, c, z}], "symbol", "next_page_token", "feed"}. Asking for data newer than your tier sees is MBD01, older is MBD02 (403).$$;
