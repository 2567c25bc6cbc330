-- Which session is the market in at a given instant: pre_market, regular, after_hours or closed.
-- PL/pgSQL so that its query keeps its plan (every submission asks; as SQL it was planned each time).
create or replace function md.market_session(p_as_of timestamptz)
returns text
language plpgsql
stable
as $$
begin
    return coalesce((
        select md.session_of(p_as_of, c)
        from md.market_calendar as c
        where c.trading_date = (p_as_of at time zone 'America/New_York')::date
    ), 'closed');
end;
$$;
comment on function md.market_session(timestamptz) is
'The market session at p_as_of (New York calendar): pre_market, regular, after_hours or closed.';

-- Alpaca's clock (GET /v2/clock) at a given instant.
create or replace function md.clock(p_as_of timestamptz)
returns table (as_of timestamptz, is_open boolean, next_open timestamptz, next_close timestamptz)
language sql
stable
as $$
    select
        p_as_of,
        md.market_session(p_as_of) = 'regular',
        (select min(c.market_open) from md.market_calendar as c where c.market_open > p_as_of),
        (select min(c.market_close) from md.market_calendar as c where c.market_close > p_as_of)
$$;
comment on function md.clock(timestamptz) is
'Alpaca''s clock at p_as_of: whether the regular session is open, and the next open and close.';
