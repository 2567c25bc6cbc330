-- Day trading in a margin account (options_rules.md 1.6), date-gated by the New York trading day:
--   up to 2026-06-03  the legacy pattern-day-trader rule (FINRA 4210(f)(8)(B)): a day trade is opening and
--                     closing the same security the same day; 4 or more in 5 business days make a pattern
--                     day trader, who gets 4 x the previous close's maintenance excess as day-trading buying
--                     power; under $25,000 of previous-close equity, the order that would be the 4th day
--                     trade is refused (Alpaca's PDT protection, 403);
--   from 2026-06-04   the intraday margin standard that replaced it: the intraday margin level is 4 x the
--                     previous close's maintenance excess, and the value of today's exposure-increasing
--                     executions (purchases other than covers, short sales) plus the holds of open opening
--                     orders may not go beyond it. MBT blocks the order that would go beyond it (real-time
--                     pre-trade check, which the rule allows), so an intraday margin deficit never arises
--                     and no 5-day cure period is needed.
-- The overnight Reg T buying power (2 x) is checked in both modes, by the buying-power check before this one.

-- Which rule governs a New York trading day.
create or replace function mbt.intraday_margin_rule(p_day date)
returns text
language sql
immutable
parallel safe
as $$
    select case when p_day < date '2026-06-04' then 'pattern_day_trader' else 'intraday_margin_level' end
$$;
comment on function mbt.intraday_margin_rule(date) is
'The day-trading rule of a New York trading day: pattern_day_trader up to 2026-06-03, intraday_margin_level from 2026-06-04 (FINRA SR-FINRA-2025-017).';

-- The intraday margin level (and the legacy day-trading buying power): 4 x the maintenance excess at the
-- previous close, never negative.
create or replace function mbt.intraday_margin_level(p_last_equity numeric, p_last_maintenance_margin numeric)
returns numeric
language sql
immutable
parallel safe
as $$
    select 4 * greatest(p_last_equity - p_last_maintenance_margin, 0)
$$;
comment on function mbt.intraday_margin_level(numeric, numeric) is
'Intraday margin level, USD: 4 x max(previous-close equity - previous-close maintenance requirement, 0).';

-- The exposure an execution adds: the value of the shares by which it takes the position away from zero
-- (a purchase other than a cover, a short sale; for a fill that flips the position, the part past zero).
create or replace function mbt.opened_value(p_side mbt.order_side, p_qty numeric, p_price numeric, p_position_after numeric)
returns numeric
language sql
immutable
parallel safe
as $$
    select p_price * greatest(
        least(p_qty, case when p_side = 'buy' then p_position_after else -p_position_after end), 0
    )
$$;
comment on function mbt.opened_value(mbt.order_side, numeric, numeric, numeric) is
'USD the execution adds to the exposure: price x the shares by which it moves the position away from zero (0 for a pure closing fill).';

-- Whether an execution increased the position (or flipped it): the side that counts toward a day trade.
create or replace function mbt.fill_opens(p_side mbt.order_side, p_qty numeric, p_position_after numeric)
returns boolean
language sql
immutable
parallel safe
as $$
    select abs(p_position_after) > abs(p_position_after - case when p_side = 'buy' then p_qty else -p_qty end)
        or sign(p_position_after) = -sign(p_position_after - case when p_side = 'buy' then p_qty else -p_qty end)
$$;
comment on function mbt.fill_opens(mbt.order_side, numeric, numeric) is
'True when an execution of p_qty on p_side, leaving p_position_after shares, increased the position or flipped it.';

-- What is left of the intraday margin level after today's opening executions and the holds of open orders.
create or replace function mbt.intraday_buying_power(p_level numeric, p_opened_today numeric, p_held numeric)
returns numeric
language sql
immutable
parallel safe
as $$
    select greatest(p_level - p_opened_today - p_held, 0)
$$;
comment on function mbt.intraday_buying_power(numeric, numeric, numeric) is
'Intraday buying power left, USD: intraday margin level - value opened today - holds of open orders, at least 0.';

-- The figures of an account at p_as_of: the previous close (its equity, and its maintenance requirement
-- from the position snapshots; with no close before today, the deposits so far, those tier retention purged
-- included, and no requirement), the
-- value opened today, and the day trades by FINRA's count, over the last five trading days (today included)
-- under the legacy rule, which counts them, and today alone under the current one:
-- per symbol and day, each execution that reduces the position right after one that increased it
-- (buy 250, buy 250, sell 500 is one; buy, sell, buy, sell is two).
create or replace function mbt.intraday_margin(
    p_account_id uuid,
    p_as_of timestamptz,
    out rule text,
    out last_equity numeric,
    out last_maintenance_margin numeric,
    out intraday_margin_level numeric,
    out opened_today numeric,
    out daytrade_count bigint
)
language plpgsql
stable
as $$
declare
    -- a few index lookups, one after the other: every submission to a margin account asks
    v_today date := (p_as_of at time zone 'America/New_York')::date;
    v_close_date date;
    v_window_start date := v_today;
begin
    rule := mbt.intraday_margin_rule(v_today);
    select s.trading_date, s.equity into v_close_date, last_equity
    from mbt.account_snapshots as s
    where s.account_id = p_account_id and s.trading_date < v_today
    order by s.trading_date desc
    limit 1;
    if v_close_date is null then
        select coalesce(sum(c.net_amount), 0) + coalesce((
            -- deposits tier retention purged (mbt.retention_carry)
            select r.net_deposits from mbt.retention_carry as r where r.account_id = p_account_id
        ), 0)
        into last_equity
        from mbt.cash_activities as c
        where c.account_id = p_account_id and c.activity_at <= p_as_of
            and c.activity_type in ('CSD', 'CSW', 'JNLC', 'TRANS') and c.status <> 'canceled';
        last_maintenance_margin := 0;
    else
        select coalesce(sum(mbt.maintenance_margin(ps.qty, ps.close_price, a.maintenance_margin_requirement)), 0)
        into last_maintenance_margin
        from mbt.position_snapshots as ps
        left join md.assets as a on ps.symbol = a.symbol
        where ps.account_id = p_account_id and ps.trading_date = v_close_date;
    end if;
    intraday_margin_level := mbt.intraday_margin_level(last_equity, last_maintenance_margin);
    if rule = 'pattern_day_trader' then
        select coalesce(min(w.trading_date), v_today) into v_window_start
        from (
            select c.trading_date from md.market_calendar as c
            where c.trading_date <= v_today and c.trading_date > v_today - 14
            order by c.trading_date desc limit 5
        ) as w;
    end if;
    select
        coalesce(sum(mbt.opened_value(f.side, f.qty, f.price, f.position_qty)) filter (where f.trading_date = v_today), 0),
        count(*) filter (where not f.opens and f.previous_opens)
    into opened_today, daytrade_count
    from (
        select
            e.*,
            lag(e.opens) over (partition by e.symbol, e.trading_date order by e.transaction_time, e.fill_id)
                as previous_opens
        from (
            select
                f.symbol, f.side, f.qty, f.price, f.position_qty, f.transaction_time, f.fill_id,
                (f.transaction_time at time zone 'America/New_York')::date as trading_date,
                mbt.fill_opens(f.side, f.qty, f.position_qty) as opens
            from mbt.fills as f
            where f.account_id = p_account_id
                and f.transaction_time >= (v_window_start::timestamp at time zone 'America/New_York')
                and f.transaction_time <= p_as_of
        ) as e
    ) as f;
end;
$$;
comment on function mbt.intraday_margin(uuid, timestamptz) is
$$Day-trading figures of an account at p_as_of: the rule in force, previous-close equity and maintenance requirement (USD),
the intraday margin level (USD), the value opened today (USD) and the day trades of the last 5 trading days (legacy rule; today alone from 2026-06-04).$$;

-- The day-trading check of an order in a margin account, after the Reg T buying-power check: p_value is the
-- order's opening value (its hold), p_held what the account's open orders hold already (read with the buying
-- power: an order with an opening value always has it),
-- p_closes whether part of the order closes a position.
create or replace function mbt.check_intraday_margin(
    p_account_id uuid, p_symbol text, p_value numeric, p_held numeric, p_closes boolean, p_as_of timestamptz
)
returns void
language plpgsql
stable
as $$
declare
    v record;
    v_rule text;
    v_held numeric;
    v_left numeric;
    v_last_opens boolean;
begin
    v_rule := mbt.intraday_margin_rule((p_as_of at time zone 'America/New_York')::date);
    if (v_rule = 'intraday_margin_level' and coalesce(p_value, 0) <= 0) or (v_rule = 'pattern_day_trader' and not p_closes) then
        return;  -- nothing the rule of the day limits
    end if;
    v := mbt.intraday_margin(p_account_id, p_as_of);
    if v.rule = 'intraday_margin_level' then
        v_held := coalesce(p_held, 0);
        v_left := mbt.intraday_buying_power(v.intraday_margin_level, v.opened_today, v_held);
        if p_value > v_left then
            perform mbt.raise_error('MBO21', 'order exceeds your intraday margin level',
                format('order value %s; intraday margin level %s (4 x (previous close equity %s - maintenance %s)), '
                    || 'opened today %s, held by open orders %s, left %s',
                    p_value, round(v.intraday_margin_level, 2), round(v.last_equity, 2),
                    round(v.last_maintenance_margin, 2), round(v.opened_today, 2), round(v_held, 2), round(v_left, 2)),
                'Reduce the quantity, cancel open orders, or wait for the next trading day: the level is 4 x the '
                || 'previous close''s maintenance excess, and what you opened today counts against it.');
        end if;
    elsif v.last_equity < 25000 and v.daytrade_count >= 3 then
        -- legacy: would the closing part make a day trade? It does when today's last execution on the
        -- symbol increased the position.
        select f.opens into v_last_opens
        from (
            select
                f.transaction_time, f.fill_id,
                mbt.fill_opens(f.side, f.qty, f.position_qty) as opens
            from mbt.fills as f
            where f.account_id = p_account_id and f.symbol = p_symbol and f.transaction_time <= p_as_of
                and f.transaction_time
                >= ((p_as_of at time zone 'America/New_York')::date::timestamp at time zone 'America/New_York')
        ) as f
        order by f.transaction_time desc, f.fill_id desc
        limit 1;
        if coalesce(v_last_opens, false) then
            perform mbt.raise_error('MBO22', 'trade denied due to pattern day trading protection',
                format('day trades in the last 5 trading days: %s; previous close equity %s (under 25000.00)',
                    v.daytrade_count, round(v.last_equity, 2)),
                'A fourth day trade in five trading days needs $25,000 of equity at the previous close: '
                || 'close the position on a later day, or deposit.');
        end if;
    end if;
end;
$$;
comment on function mbt.check_intraday_margin(uuid, text, numeric, numeric, boolean, timestamptz) is
$$Refuse an order that breaks the day-trading rule of its day: MBO21 beyond the intraday margin level (from 2026-06-04),
MBO22 a fourth day trade in 5 trading days under $25,000 (up to 2026-06-03).$$;
