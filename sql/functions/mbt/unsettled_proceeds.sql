-- Sale proceeds not yet settled on a New York day: stocks settle T+1 (the next trading day after the
-- trade's day; options_rules.md 1.5). A cash account buys with settled cash only.
create or replace function mbt.unsettled_proceeds(p_account_id uuid, p_day date)
returns numeric
language sql
stable
as $$
    select coalesce(sum(round(f.qty * f.price, 2)), 0)
    from mbt.fills as f
    where f.account_id = p_account_id
        and f.side = 'sell'
        and f.transaction_time >= (p_day - 7)::timestamp at time zone 'America/New_York'
        and (
            select min(c.trading_date) from md.market_calendar as c
            where c.trading_date > (f.transaction_time at time zone 'America/New_York')::date
        ) > p_day
$$;
comment on function mbt.unsettled_proceeds(uuid, date) is
'USD of sale proceeds of the account not yet settled on New York day p_day (T+1: settled on the next trading day).';
