-- GET /api/rpc/intraday_margin: the caller's day-trading figures now (mbt.intraday_margin), money as decimal
-- strings. GET /api/account shows the same figures; a view calls its functions as the caller, who may not
-- read the tables, so this one reads them with its owner's rights, for the caller's own account alone.
create or replace function api.intraday_margin()
returns table (
    rule text,
    last_equity text,
    last_maintenance_margin text,
    intraday_margin_level text,
    opened_today text,
    intraday_buying_power text
)
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
    return query
    select
        m.rule,
        round(m.last_equity, 2)::text,
        round(m.last_maintenance_margin, 2)::text,
        round(m.intraday_margin_level, 2)::text,
        round(m.opened_today, 2)::text,
        round(case
            when a.multiplier >= 2 then mbt.intraday_buying_power(m.intraday_margin_level, m.opened_today, h.held)
            else 0
        end, 2)::text
    from mbt.accounts as a
    cross join lateral mbt.intraday_margin(a.account_id, now()) as m
    cross join lateral (
        select coalesce(sum(o.buying_power_held), 0) as held
        from mbt.orders as o
        where o.account_id = a.account_id and o.status in ('new', 'partially_filled', 'accepted', 'held')
    ) as h
    where a.account_id = mbt.current_account_id();
end;
$$;
comment on function api.intraday_margin() is $$Your day-trading figures
The rule in force today (intraday_margin_level from 2026-06-04, pattern_day_trader before), the previous close's
equity and maintenance requirement, the intraday margin level (4 x their difference), what you opened today, and
what is left of the level for opening orders (margin accounts; 0 for cash accounts). Money in USD, as decimal strings.$$;
