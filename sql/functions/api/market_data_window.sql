-- GET /api/rpc/market_data_window: what market data the caller's tier sees right now.
create function api.market_data_window()
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
    select jsonb_build_object(
        'tier', w.tier,
        'feed', w.feed,
        'delay_seconds', coalesce(extract(epoch from w.delay)::integer, 0),
        'history_days', extract(day from w.history)::integer,
        'visible_from', md.rfc3339(w.visible_from),
        'visible_until', md.rfc3339(w.visible_until)
    )
    from md.quote_window(md.request_tier(), now()) as w
$$;
comment on function api.market_data_window() is $$The market data your tier sees
{"tier", "feed": "delayed_sip" (15 minutes late) or "sip" (real time), "delay_seconds", "history_days" (null: the whole archive), "visible_from", "visible_until" (null: open)}. Free: delayed 15 minutes, last 7 days; Pro: real time, last 30 days; Pro+: real time and the whole archive.$$;
