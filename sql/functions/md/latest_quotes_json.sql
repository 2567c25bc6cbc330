-- The latest quote of each symbol inside a tier's window at p_now (api.latest_quotes passes the caller's
-- tier and now()), in Alpaca's shape.
create or replace function md.latest_quotes_json(
    p_tier auth.tier,
    p_now timestamptz,
    p_symbols text
)
returns jsonb
language plpgsql
stable
set search_path = ''
as $$
declare
    v_window record;
    v_symbols text[];
    v_quotes jsonb;
begin
    v_symbols := md.parse_symbols(p_symbols);
    select w.* into strict v_window from md.quote_window(p_tier, p_now) as w;
    select coalesce(jsonb_object_agg(s.symbol, md.quote_json(q)), '{}')
    into v_quotes
    from unnest(v_symbols) as s (symbol)
    cross join lateral md.visible_latest_quote(s.symbol, v_window.visible_from, v_window.visible_until) as q;
    return jsonb_build_object('quotes', v_quotes, 'feed', v_window.feed);
end;
$$;
comment on function md.latest_quotes_json(auth.tier, timestamptz, text) is
$$Alpaca's latest quotes response {"quotes": {symbol: quote}, "feed"} for a comma-separated list of symbols,
each the newest quote inside p_tier's window at p_now (md.visible_latest_quote); symbols without one are left out.$$;
