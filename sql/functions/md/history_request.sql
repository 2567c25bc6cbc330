-- What a history request (quotes, bars) reads, checked once for both: one symbol, page_size 1-10000 and
-- sort asc|desc (MBV04/MBV03), the range inside the tier's window at p_now (md.requested_range: MBD01/MBD02)
-- and where the page starts (md.read_page_token).
create or replace function md.history_request(
    p_tier auth.tier,
    p_now timestamptz,
    p_symbol text,
    p_start timestamptz,
    p_end timestamptz,
    p_limit integer,
    p_page_token text,
    p_sort text,
    out symbol text,
    out range_start timestamptz,
    out range_end timestamptz,
    out feed text,
    out visible_until timestamptz,
    out after_time timestamptz,
    out after_id text
)
language plpgsql
stable
set search_path = ''
as $$
begin
    symbol := upper(trim(p_symbol));
    if coalesce(symbol, '') = '' then
        perform mbt.raise_error('MBV04', 'symbol is missing.', null, 'Name one symbol: symbol=AAPL.');
    end if;
    if p_limit is null or p_limit not between 1 and 10000 or p_sort is null or p_sort not in ('asc', 'desc') then
        perform mbt.raise_error('MBV03', 'Invalid paging parameters.', format('page_size = %s, sort = %s', p_limit, p_sort),
            'page_size: 1 to 10000; sort: asc or desc.');
    end if;
    select r.range_start, r.range_end, r.feed, r.visible_until
    into strict range_start, range_end, feed, visible_until
    from md.requested_range(p_tier, p_now, p_start, p_end) as r;
    select t.after_time, t.after_id into strict after_time, after_id from md.read_page_token(p_page_token) as t;
end;
$$;
comment on function md.history_request(auth.tier, timestamptz, text, timestamptz, timestamptz, integer, text, text) is
$$The symbol, range (inside p_tier's window at p_now) and page start of a quote or bar history request, checked:
MBV04 no symbol, MBV03 page_size not 1-10000 or sort not asc/desc, MBD01/MBD02 beyond the window.$$;
