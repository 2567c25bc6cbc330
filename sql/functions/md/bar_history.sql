-- One-minute bars of one symbol inside a tier's window at p_now (api.bars passes the caller's tier and
-- now()). A bar is visible once its minute is over inside the window: bar_time + 1 minute <= visible_until.
create or replace function md.bar_history(
    p_tier auth.tier,
    p_now timestamptz,
    p_symbol text,
    p_start timestamptz,
    p_end timestamptz,
    p_limit integer,
    p_page_token text,
    p_sort text
)
returns jsonb
language plpgsql
stable
set search_path = ''
as $$
declare
    v_symbol text;
    v_limit integer := p_limit;
    v_range record;
    v_last_bar_time timestamptz;
    v_bars jsonb;
    v_count bigint;
    v_last_time timestamptz;
begin
    select h.* into strict v_range from md.history_request(
        p_tier, p_now, p_symbol, p_start, p_end, p_limit, p_page_token, p_sort
    ) as h;
    v_symbol := v_range.symbol;
    -- the last bar inside the range whose minute is over inside the window
    v_last_bar_time := least(v_range.range_end, v_range.visible_until - interval '1 minute');

    if p_sort = 'asc' then
        select
            coalesce(jsonb_agg(md.bar_json(p.b) order by p.n) filter (where p.n <= v_limit), '[]'),
            count(*),
            max((p.b).bar_time) filter (where p.n = v_limit)
        into v_bars, v_count, v_last_time
        from (
            select k.b, row_number() over (order by k.bar_time asc) as n
            from (
                select b, b.bar_time
                from md.bars_1m as b
                where
                    b.symbol = v_symbol
                    and b.bar_time >= v_range.range_start
                    and b.bar_time <= v_last_bar_time
                    and (v_range.after_time is null or b.bar_time > v_range.after_time)
                order by b.bar_time asc
                limit v_limit + 1
            ) as k
        ) as p;
    else
        select
            coalesce(jsonb_agg(md.bar_json(p.b) order by p.n) filter (where p.n <= v_limit), '[]'),
            count(*),
            max((p.b).bar_time) filter (where p.n = v_limit)
        into v_bars, v_count, v_last_time
        from (
            select k.b, row_number() over (order by k.bar_time desc) as n
            from (
                select b, b.bar_time
                from md.bars_1m as b
                where
                    b.symbol = v_symbol
                    and b.bar_time >= v_range.range_start
                    and b.bar_time <= v_last_bar_time
                    and (v_range.after_time is null or b.bar_time < v_range.after_time)
                order by b.bar_time desc
                limit v_limit + 1
            ) as k
        ) as p;
    end if;

    return jsonb_build_object(
        'bars', v_bars,
        'symbol', v_symbol,
        'next_page_token', case when v_count > v_limit then md.page_token(v_last_time, null) end,
        'feed', v_range.feed
    );
end;
$$;
comment on function md.bar_history(auth.tier, timestamptz, text, timestamptz, timestamptz, integer, text, text) is
$$Alpaca's bars response {"bars", "symbol", "next_page_token", "feed"} of one-minute bars of one symbol, inside p_tier's window at p_now
(a bar counts from its minute's end). limit 1-10000, sort asc or desc (MBV03 otherwise).$$;
