-- The newest quote of a symbol inside a tier's window. In real time that is md.latest_quotes; for a
-- delayed window it is the newest quote at or before visible_until: md.latest_quotes when that one
-- is old enough already, else one backward step of the (symbol, quote_time) index of the day
-- partitions, newest day first (an ordered append that stops at the first row).
create or replace function md.visible_latest_quote(
    p_symbol text,
    p_visible_from timestamptz,
    p_visible_until timestamptz
)
returns setof md.latest_quotes
language sql
stable
as $$
    select v.*
    from (
        select l.*
        from md.latest_quotes as l
        where
            l.symbol = p_symbol
            and l.quote_time <= coalesce(p_visible_until, 'infinity')
            and l.quote_time >= coalesce(p_visible_from, '-infinity')
        union all
        (
            select
                q.symbol, q.quote_id, q.bid_price, q.ask_price, q.bid_size, q.ask_size, q.bid_exchange,
                q.ask_exchange, q.conditions, q.tape, q.quote_time
            from md.quotes as q
            where
                p_visible_until is not null
                and q.symbol = p_symbol
                and q.quote_time <= p_visible_until
                and q.quote_time >= coalesce(p_visible_from, '-infinity')
            order by q.quote_time desc, q.quote_id desc
            limit 1
        )
    ) as v
    limit 1
$$;
comment on function md.visible_latest_quote(text, timestamptz, timestamptz) is
'The newest quote of p_symbol with quote_time in [p_visible_from, p_visible_until] (null bounds are open); no row when there is none.';
