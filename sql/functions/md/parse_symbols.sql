-- The symbols of a market-data request: Alpaca's comma-separated list, e.g. "AAPL,msft, SPY".
create or replace function md.parse_symbols(p_symbols text, p_max integer default 1000)
returns text[]
language plpgsql
stable
set search_path = ''
as $$
declare
    v_symbols text[];
begin
    select coalesce(array_agg(distinct s.symbol order by s.symbol), '{}')
    into v_symbols
    from unnest(string_to_array(coalesce(p_symbols, ''), ',')) as u (part)
    cross join lateral (select upper(trim(u.part)) as symbol) as s
    where s.symbol <> '';
    if cardinality(v_symbols) = 0 then
        perform mbt.raise_error('MBV04', 'symbols is missing.', null,
            'Name one or more symbols, comma-separated: symbols=AAPL,MSFT.');
    end if;
    if cardinality(v_symbols) > p_max then
        perform mbt.raise_error('MBV03', format('Too many symbols: at most %s per request.', p_max),
            format('symbols: %s', cardinality(v_symbols)), 'Split the list over several requests.');
    end if;
    return v_symbols;
end;
$$;
comment on function md.parse_symbols(text, integer) is
'Upper-cased, de-duplicated symbols of a comma-separated list; MBV04 when empty, MBV03 when over p_max.';
