-- Historical quotes of one symbol inside a tier's window at p_now (api.quotes passes the caller's tier
-- and now()). Keyset paging on (quote_time, quote_id): the (symbol, quote_time) index of each day partition.
create or replace function md.quote_history(
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
    v_after_id bigint;
    v_quotes jsonb;
    v_count bigint;
    v_last_time timestamptz;
    v_last_id bigint;
begin
    select h.* into strict v_range from md.history_request(
        p_tier, p_now, p_symbol, p_start, p_end, p_limit, p_page_token, p_sort
    ) as h;
    v_symbol := v_range.symbol;
    if v_range.after_time is not null and coalesce(v_range.after_id, '') !~ '^\d{1,18}$' then
        perform mbt.raise_error('MBV03', 'page_token is not one this API gave out.', format('page_token = %s', p_page_token),
            'Pass the next_page_token of the previous page unchanged, or leave it out for the first page.');
    end if;
    v_after_id := v_range.after_id::bigint;

    if p_sort = 'asc' then
        select
            coalesce(jsonb_agg(md.quote_json(p.q) order by p.n) filter (where p.n <= v_limit), '[]'),
            count(*),
            max((p.q).quote_time) filter (where p.n = v_limit),
            max((p.q).quote_id) filter (where p.n = v_limit)
        into v_quotes, v_count, v_last_time, v_last_id
        from (
            select k.q, row_number() over (order by k.quote_time asc, k.quote_id asc) as n
            from (
                select q, q.quote_time, q.quote_id
                from md.quotes as q
                where
                    q.symbol = v_symbol
                    and q.quote_time >= greatest(v_range.range_start, v_range.after_time)
                    and q.quote_time <= v_range.range_end
                    and (v_range.after_time is null or (q.quote_time, q.quote_id) > (v_range.after_time, v_after_id))
                order by q.quote_time asc, q.quote_id asc
                limit v_limit + 1
            ) as k
        ) as p;
    else
        select
            coalesce(jsonb_agg(md.quote_json(p.q) order by p.n) filter (where p.n <= v_limit), '[]'),
            count(*),
            max((p.q).quote_time) filter (where p.n = v_limit),
            max((p.q).quote_id) filter (where p.n = v_limit)
        into v_quotes, v_count, v_last_time, v_last_id
        from (
            select k.q, row_number() over (order by k.quote_time desc, k.quote_id desc) as n
            from (
                select q, q.quote_time, q.quote_id
                from md.quotes as q
                where
                    q.symbol = v_symbol
                    and q.quote_time >= v_range.range_start
                    and q.quote_time <= least(v_range.range_end, v_range.after_time)
                    and (v_range.after_time is null or (q.quote_time, q.quote_id) < (v_range.after_time, v_after_id))
                order by q.quote_time desc, q.quote_id desc
                limit v_limit + 1
            ) as k
        ) as p;
    end if;

    return jsonb_build_object(
        'quotes', v_quotes,
        'symbol', v_symbol,
        'next_page_token', case when v_count > v_limit then md.page_token(v_last_time, v_last_id::text) end,
        'feed', v_range.feed
    );
end;
$$;
comment on function md.quote_history(auth.tier, timestamptz, text, timestamptz, timestamptz, integer, text, text) is
$$Alpaca's historical quotes response {"quotes", "symbol", "next_page_token", "feed"} for one symbol, inside p_tier's window at p_now
(md.requested_range: MBD01/MBD02 beyond it). p_limit 1-10000, sort asc or desc (MBV03 otherwise).$$;
