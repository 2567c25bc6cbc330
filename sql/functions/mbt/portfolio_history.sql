-- Portfolio history (Alpaca's GET /v2/account/portfolio/history, alpaca.md 4.3), timeframe 1D: one point
-- per trading day from the end-of-day snapshots (equity at the close), plus a live point for the current
-- trading day (equity now, at the latest quotes) while its snapshot is not written yet.
--
--   timestamp[i]        New York midnight of the trading day, epoch seconds (left-labelled, as Alpaca)
--   base_value          equity at the close before the first point (tier retention keeps the latest it
--                       removed in mbt.retention_carry); without one (a newer account), the money
--                       deposited by the first point (else its equity)
--   profit_loss[i]      (equity[i] - net_deposits[i]) - (base_value - net_deposits at the base): deposits
--                       and withdrawals are not profit
--   profit_loss_pct[i]  profit_loss[i] / base_value, a fraction rounded to 6 decimals (0.0125 = 1.25 %)
--
-- period: <n>D (the last n trading days), <n>W, <n>M, <n>A (calendar weeks, months, years back from
-- date_end) or all; default 1M. date_end: the last day shown (default: today in New York).
create or replace function mbt.portfolio_history(
    p_account_id uuid,
    p_period text,
    p_timeframe text,
    p_date_end text,
    p_as_of timestamptz
)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
    v_period text := upper(coalesce(nullif(btrim(p_period), ''), '1M'));
    v_count integer;
    v_unit text;
    v_date_end date;
    v_start date;
    v_today date;
    v_result jsonb;
begin
    if v_period <> 'ALL' and v_period !~ '^[1-9]\d{0,3}[DWMA]$' then
        perform mbt.raise_error('MBL03', format('period must be a number and a unit (D, W, M, A), or all; not %s.', p_period),
            format('period = %s', p_period), 'E.g. 1W, 1M, 3M, 1A or all.');
    end if;
    if coalesce(nullif(btrim(p_timeframe), ''), '1D') <> '1D' then
        perform mbt.raise_error('MBL03', format('timeframe %s is not available: daily points only.', p_timeframe),
            format('timeframe = %s', p_timeframe), 'Use timeframe 1D (the default).');
    end if;
    begin
        v_date_end := coalesce(nullif(btrim(p_date_end), '')::date, (p_as_of at time zone 'America/New_York')::date);
    exception when others then
        perform mbt.raise_error('MBL03', format('date_end is not a date: %s.', p_date_end), format('date_end = %s', p_date_end),
            'A New York calendar day, YYYY-MM-DD.');
    end;

    if v_period <> 'ALL' then
        v_count := left(v_period, -1)::integer;
        v_unit := right(v_period, 1);
        if v_unit = 'D' then
            select c.trading_date into v_start
            from md.market_calendar as c
            where c.trading_date <= v_date_end
            order by c.trading_date desc
            offset v_count
            limit 1;
        else
            v_start := v_date_end - case v_unit
                when 'W' then make_interval(weeks => v_count)
                when 'M' then make_interval(months => v_count)
                else make_interval(years => v_count)
            end;
        end if;
    end if;
    v_start := coalesce(v_start, '-infinity'::date);

    -- the trading day in progress (or last ended) at p_as_of
    select max(c.trading_date) into v_today from md.market_calendar as c where c.session_open <= p_as_of;

    with
    points as (
        select s.trading_date, s.equity, s.net_deposits
        from mbt.account_snapshots as s
        where s.account_id = p_account_id and s.trading_date > v_start and s.trading_date <= v_date_end
        union all
        select v_today, round(b.equity, 2), (
            select coalesce(sum(c.net_amount), 0) from mbt.cash_activities as c
            where c.account_id = p_account_id and c.activity_at <= p_as_of
                and c.activity_type in ('CSD', 'CSW', 'JNLC', 'TRANS') and c.status <> 'canceled'
        ) + coalesce((select r.net_deposits from mbt.retention_carry as r where r.account_id = p_account_id), 0)
        from mbt.account_balances as b
        where b.account_id = p_account_id and v_today > v_start and v_today <= v_date_end
            and not exists (
                select from mbt.account_snapshots as s where s.account_id = p_account_id and s.trading_date = v_today
            )
    ),

    first_point as (
        select p.trading_date, p.equity, p.net_deposits from points as p order by p.trading_date limit 1
    ),

    base as (
        select
            coalesce(prev.equity, coalesce(nullif(f.net_deposits, 0), f.equity)) as base_value,
            coalesce(prev.net_deposits, f.net_deposits) as base_deposits,
            coalesce(prev.trading_date, f.trading_date) as base_date
        from first_point as f
        left join lateral (
            select x.trading_date, x.equity, x.net_deposits
            from (
                (
                    select s.trading_date, s.equity, s.net_deposits
                    from mbt.account_snapshots as s
                    where s.account_id = p_account_id and s.trading_date < f.trading_date
                    order by s.trading_date desc
                    limit 1
                )
                union all
                -- the latest snapshot tier retention removed
                select r.base_date, r.base_equity, r.base_net_deposits
                from mbt.retention_carry as r
                where r.account_id = p_account_id and r.base_date < f.trading_date
            ) as x
            order by x.trading_date desc
            limit 1
        ) as prev on true
    ),

    series as (
        select
            p.trading_date,
            p.equity,
            (p.equity - p.net_deposits) - (b.base_value - b.base_deposits) as profit_loss,
            b.base_value
        from points as p
        cross join base as b
    )

    select jsonb_build_object(
        'timestamp', coalesce(jsonb_agg(
            extract(epoch from s.trading_date::timestamp at time zone 'America/New_York')::bigint order by s.trading_date
        ), '[]'::jsonb),
        'equity', coalesce(jsonb_agg(s.equity order by s.trading_date), '[]'::jsonb),
        'profit_loss', coalesce(jsonb_agg(s.profit_loss order by s.trading_date), '[]'::jsonb),
        'profit_loss_pct', coalesce(jsonb_agg(
            case when s.base_value = 0 then 0 else round(s.profit_loss / s.base_value, 6) end order by s.trading_date
        ), '[]'::jsonb),
        'base_value', (select b.base_value from base as b),
        'base_value_asof', (select b.base_date from base as b),
        'timeframe', '1D'
    )
    into v_result
    from series as s;
    return v_result;
end;
$$;
comment on function mbt.portfolio_history(uuid, text, text, text, timestamptz) is
'Alpaca''s portfolio history at timeframe 1D from the end-of-day snapshots plus today''s live point; MBL03 on bad parameters.';
