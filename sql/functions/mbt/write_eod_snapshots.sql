-- End-of-day snapshots: every account and every open position as they stood at the close of the
-- latest NYSE trading day that closed at or before p_as_of (16:00 ET, 13:00 ET on early closes).
--
-- The figures are those of the close, whenever the job runs: what moved after the close (after-hours
-- fills, cash activities) is taken back out of today's positions and cash, so a late run, or a second
-- one, writes the same rows (upserts that change only what differs; a repeat changes nothing).
-- Positions are marked at the midpoint of the last sane quote at or before the close (mbt.mark_price);
-- a symbol with no such quote keeps its previous closing mark, else its average entry price.
-- net_deposits sums the cash that came in or went out (CSD, CSW, JNLC, TRANS) up to the close: it is
-- not profit, and portfolio history takes it out of profit_loss; what tier retention removed of them is
-- in mbt.retention_carry.
create or replace function mbt.write_eod_snapshots(p_as_of timestamptz)
returns integer
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_day date;
    v_close timestamptz;
    v_positions integer;
    v_accounts integer;
begin
    select c.trading_date, c.market_close into v_day, v_close
    from md.market_calendar as c
    where c.market_close <= p_as_of
    order by c.trading_date desc
    limit 1;
    if v_day is null then
        return 0;
    end if;

    with
    -- what fills at or after the close moved (only positions touched since the close can have any)
    moved as (
        select p.account_id, p.symbol, sum(case when f.side = 'buy' then f.qty else -f.qty end) as qty_after
        from mbt.positions as p
        inner join mbt.fills as f
            on p.account_id = f.account_id and p.symbol = f.symbol and f.transaction_time >= v_close
        where p.updated_at >= v_close
        group by p.account_id, p.symbol
    ),

    at_close as (
        select p.account_id, p.symbol, p.qty - coalesce(m.qty_after, 0) as qty, p.avg_entry_price
        from mbt.positions as p
        inner join mbt.accounts as a on p.account_id = a.account_id
        left join moved as m on p.account_id = m.account_id and p.symbol = m.symbol
        where p.qty - coalesce(m.qty_after, 0) <> 0 and a.created_at <= v_close
    ),

    closing_quotes as (
        select s.symbol, q.bid_price, q.ask_price
        from (select distinct c.symbol from at_close as c) as s
        left join lateral (
            select x.bid_price, x.ask_price
            from md.quotes as x
            where x.symbol = s.symbol and x.quote_time <= v_close and x.bid_price > 0 and x.ask_price >= x.bid_price
            order by x.quote_time desc
            limit 1
        ) as q on true
    ),

    marked as (
        select
            c.account_id, c.symbol, c.qty,
            round(mbt.mark_price(q.bid_price, q.ask_price, coalesce(
                (
                    select s.close_price from mbt.position_snapshots as s
                    where s.account_id = c.account_id and s.symbol = c.symbol and s.trading_date < v_day
                    order by s.trading_date desc
                    limit 1
                ),
                c.avg_entry_price
            )), 9) as close_price
        from at_close as c
        inner join closing_quotes as q on c.symbol = q.symbol
    ),

    written as (
        insert into mbt.position_snapshots as s (account_id, trading_date, symbol, qty, close_price)
        select m.account_id, v_day, m.symbol, m.qty, m.close_price
        from marked as m
        on conflict (account_id, trading_date, symbol) do update
        set qty = excluded.qty, close_price = excluded.close_price
        where (s.qty, s.close_price) is distinct from (excluded.qty, excluded.close_price)
        returning 1
    ),

    stale as (
        delete from mbt.position_snapshots as s
        where s.trading_date = v_day
            and not exists (select from at_close as c where c.account_id = s.account_id and c.symbol = s.symbol)
        returning 1
    )

    select (select count(*) from written) + (select count(*) from stale) into v_positions;

    with
    fills_after as (
        select
            f.account_id,
            sum(round(case when f.side = 'buy' then -f.qty * f.price else f.qty * f.price end, 2)) as amount
        from mbt.fills as f
        where f.account_id in (select p.account_id from mbt.positions as p where p.updated_at >= v_close)
            and f.transaction_time >= v_close
        group by f.account_id
    ),

    ledger as (
        select
            c.account_id,
            coalesce(sum(c.net_amount) filter (where c.activity_at > v_close), 0) as after_close,
            coalesce(sum(c.net_amount) filter (
                where c.activity_at <= v_close and c.activity_type in ('CSD', 'CSW', 'JNLC', 'TRANS')
                and c.status <> 'canceled'
            ), 0) as net_deposits
        from mbt.cash_activities as c
        group by c.account_id
    ),

    position_values as (
        select
            s.account_id,
            sum(s.qty * s.close_price) filter (where s.qty > 0) as long_value,
            sum(s.qty * s.close_price) filter (where s.qty < 0) as short_value
        from mbt.position_snapshots as s
        where s.trading_date = v_day
        group by s.account_id
    ),

    balances as (
        select
            a.account_id,
            a.cash - coalesce(f.amount, 0) - coalesce(l.after_close, 0) as cash,
            coalesce(v.long_value, 0) as long_value,
            coalesce(v.short_value, 0) as short_value,
            coalesce(l.net_deposits, 0) + coalesce(r.net_deposits, 0) as net_deposits
        from mbt.accounts as a
        left join fills_after as f on a.account_id = f.account_id
        left join ledger as l on a.account_id = l.account_id
        left join mbt.retention_carry as r on a.account_id = r.account_id
        left join position_values as v on a.account_id = v.account_id
        where a.created_at <= v_close
    ),

    written as (
        insert into mbt.account_snapshots as s (
            account_id, trading_date, closed_at, cash, long_market_value, short_market_value, equity, net_deposits
        )
        select
            b.account_id, v_day, v_close, b.cash, round(b.long_value, 2), round(b.short_value, 2),
            round(b.cash + b.long_value + b.short_value, 2), b.net_deposits
        from balances as b
        on conflict (account_id, trading_date) do update
        set closed_at = excluded.closed_at,
            cash = excluded.cash,
            long_market_value = excluded.long_market_value,
            short_market_value = excluded.short_market_value,
            equity = excluded.equity,
            net_deposits = excluded.net_deposits
        where (s.closed_at, s.cash, s.long_market_value, s.short_market_value, s.equity, s.net_deposits)
        is distinct from (
            excluded.closed_at, excluded.cash, excluded.long_market_value, excluded.short_market_value,
            excluded.equity, excluded.net_deposits
        )
        returning 1
    )

    select count(*) into v_accounts from written;
    return v_accounts + v_positions;
end;
$$;
comment on function mbt.write_eod_snapshots(timestamptz) is
$$Write (upsert) the end-of-day snapshot of every account and position at the latest close at or before p_as_of.
Returns the rows written or changed (0 on a repeat).$$;
