-- Market data in Alpaca's JSON shapes (the data API's one-letter keys). Prices and sizes are JSON
-- numbers written from numeric, so they are exact decimals; times are RFC 3339 in UTC.

create or replace function md.rfc3339(p_at timestamptz)
returns text
language sql
immutable
parallel safe
as $$
    select to_char(p_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
$$;
comment on function md.rfc3339(timestamptz) is 'An instant as RFC 3339 text in UTC with microseconds, e.g. 2026-11-24T15:00:00.000000Z.';

create or replace function md.quote_json(p_quote md.latest_quotes)
returns jsonb
language sql
immutable
parallel safe
as $$
    select jsonb_build_object(
        't', md.rfc3339(p_quote.quote_time),
        'bx', p_quote.bid_exchange,
        'bp', trim_scale(p_quote.bid_price),
        'bs', trim_scale(p_quote.bid_size),
        'ax', p_quote.ask_exchange,
        'ap', trim_scale(p_quote.ask_price),
        'as', trim_scale(p_quote.ask_size),
        'c', to_jsonb(p_quote.conditions),
        'z', p_quote.tape
    )
$$;
comment on function md.quote_json(md.latest_quotes) is
'A quote in Alpaca''s shape: t (time), bx/bp/bs (bid exchange, price USD, size), ax/ap/as (ask), c (conditions), z (tape).';

create or replace function md.quote_json(p_quote md.quotes)
returns jsonb
language sql
immutable
parallel safe
as $$
    select md.quote_json(row(
        p_quote.symbol, p_quote.quote_id, p_quote.bid_price, p_quote.ask_price, p_quote.bid_size, p_quote.ask_size,
        p_quote.bid_exchange, p_quote.ask_exchange, p_quote.conditions, p_quote.tape, p_quote.quote_time
    )::md.latest_quotes)
$$;
comment on function md.quote_json(md.quotes) is 'A stored quote in Alpaca''s shape (see md.quote_json(md.latest_quotes)).';

create or replace function md.bar_json(p_bar md.bars_1m)
returns jsonb
language sql
immutable
parallel safe
as $$
    select jsonb_build_object(
        't', md.rfc3339(p_bar.bar_time),
        'o', trim_scale(p_bar.open_price),
        'h', trim_scale(p_bar.high_price),
        'l', trim_scale(p_bar.low_price),
        'c', trim_scale(p_bar.close_price),
        'v', trim_scale(p_bar.volume),
        'n', p_bar.trade_count,
        'vw', trim_scale(p_bar.vwap)
    )
$$;
comment on function md.bar_json(md.bars_1m) is
'A one-minute bar in Alpaca''s shape: t (start of the minute), o/h/l/c (USD), v (volume), n (trades), vw (VWAP, USD).';

-- Paging tokens: opaque to callers (hex of the last row's sort key), checked when read back.
create or replace function md.page_token(p_at timestamptz, p_id text)
returns text
language sql
immutable
parallel safe
as $$
    select encode(convert_to(md.rfc3339(p_at) || '|' || coalesce(p_id, ''), 'UTF8'), 'hex')
$$;
comment on function md.page_token(timestamptz, text) is 'The next_page_token after a row whose sort key is (p_at, p_id).';

create or replace function md.read_page_token(p_token text, out after_time timestamptz, out after_id text)
language plpgsql
stable
set search_path = ''
as $$
declare
    v_text text;
begin
    if p_token is null or p_token = '' then
        return;
    end if;
    begin
        v_text := convert_from(decode(p_token, 'hex'), 'UTF8');
        after_time := split_part(v_text, '|', 1)::timestamptz;
        after_id := nullif(split_part(v_text, '|', 2), '');
    exception when others then
        perform mbt.raise_error('MBV03', 'page_token is not one this API gave out.', format('page_token = %s', p_token),
            'Pass the next_page_token of the previous page unchanged, or leave it out for the first page.');
    end;
    if after_time is null or position('|' in v_text) = 0 then
        perform mbt.raise_error('MBV03', 'page_token is not one this API gave out.', format('page_token = %s', p_token),
            'Pass the next_page_token of the previous page unchanged, or leave it out for the first page.');
    end if;
end;
$$;
comment on function md.read_page_token(text) is 'The sort key a next_page_token stands for; MBV03 (422) when it is not one of ours.';
