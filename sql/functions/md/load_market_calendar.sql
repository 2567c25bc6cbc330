-- Load NYSE trading days (from exchange-calendars XNYS, passed in by mbtctl) into md.market_calendar.
-- Pre-market opens 04:00 ET; after-hours ends 20:00 ET, or 17:00 ET after an early (13:00) close.
create or replace function md.load_market_calendar(p_days jsonb)
returns integer
language sql
volatile
set search_path = ''
as $$
    with days as (
        select
            (d ->> 'date')::date as trading_date,
            (d ->> 'open')::timestamptz as market_open,
            (d ->> 'close')::timestamptz as market_close
        from jsonb_array_elements(p_days) as d
    ),
    loaded as (
        insert into md.market_calendar as c (trading_date, session_open, market_open, market_close, session_close)
        select
            days.trading_date,
            (days.trading_date + time '04:00')::timestamp at time zone 'America/New_York',
            days.market_open,
            days.market_close,
            case
                when (days.market_close at time zone 'America/New_York')::time < time '16:00'
                    then (days.trading_date + time '17:00')::timestamp at time zone 'America/New_York'
                else (days.trading_date + time '20:00')::timestamp at time zone 'America/New_York'
            end
        from days
        on conflict (trading_date) do update
        set session_open = excluded.session_open,
            market_open = excluded.market_open,
            market_close = excluded.market_close,
            session_close = excluded.session_close
        returning 1
    )
    select count(*)::integer from loaded
$$;
comment on function md.load_market_calendar(jsonb) is
'Upsert trading days given as [{"date", "open", "close"}] (regular session, timestamptz); derives the extended-hours bounds.';
