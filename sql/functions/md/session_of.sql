-- The session an instant falls in on a trading day's calendar row (null row: no trading that day).
create or replace function md.session_of(p_at timestamptz, p_day md.market_calendar)
returns text
language sql
immutable
parallel safe
as $$
    select case
        when p_at >= p_day.market_open and p_at < p_day.market_close then 'regular'
        when p_at >= p_day.session_open and p_at < p_day.market_open then 'pre_market'
        when p_at >= p_day.market_close and p_at < p_day.session_close then 'after_hours'
        else 'closed'
    end
$$;
comment on function md.session_of(timestamptz, md.market_calendar) is
'pre_market, regular, after_hours or closed for an instant, given its New York day''s calendar row.';
