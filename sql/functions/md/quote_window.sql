-- Tier-gated market data: which quotes and bars each tier may see, in one place. Every api endpoint
-- of market data asks md.quote_window for the caller's window and reads nothing outside it.
--   free      delayed 15 minutes (Alpaca's delayed_sip), the last 7 days
--   pro       real time (sip), the last 30 days
--   pro_plus  real time (sip), the whole archive (what market-data retention keeps)
-- The window moves with the wall clock: delivery is not an engine decision, so the endpoints pass
-- now(); tests pass fixed instants.

create or replace function md.request_tier()
returns auth.tier
language sql
stable
as $$
    select case nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'tier'
        when 'pro' then 'pro'::auth.tier
        when 'pro_plus' then 'pro_plus'::auth.tier
        else 'free'::auth.tier
    end
$$;
comment on function md.request_tier() is
'Tier of the caller of this HTTP request: the verified access token''s tier claim; free when it says nothing else.';

create or replace function md.quote_window(p_tier auth.tier, p_now timestamptz)
returns table (
    tier auth.tier,
    feed text,
    delay interval,
    history interval,
    visible_from timestamptz,
    visible_until timestamptz
)
language sql
stable
as $$
    select
        w.tier,
        w.feed,
        w.delay,
        w.history,
        (p_now at time zone 'America/New_York' - w.history) at time zone 'America/New_York',
        p_now - w.delay
    from (values
        ('free'::auth.tier, 'delayed_sip', interval '15 minutes', interval '7 days'),
        ('pro'::auth.tier, 'sip', null, interval '30 days'),
        ('pro_plus'::auth.tier, 'sip', null, null)
    ) as w (tier, feed, delay, history)
    where w.tier = coalesce(p_tier, 'free')
$$;
comment on function md.quote_window(auth.tier, timestamptz) is $$The market data a tier may see at p_now: quote_time (bar end) in [visible_from, visible_until].
History counts New York calendar days. A null bound is open: visible_until is null in real time (pro, pro_plus), visible_from is null for the whole archive (pro_plus).
feed is Alpaca's name for it: delayed_sip (15 minutes late) or sip (real time). delay and history are the rule itself.$$;

-- The time range a history request (quotes, bars) reads, inside the caller's window. Asking for
-- more than the window is refused with a code that says which limit, and how to stay inside it.
create or replace function md.requested_range(
    p_tier auth.tier,
    p_now timestamptz,
    p_start timestamptz,
    p_end timestamptz,
    out range_start timestamptz,
    out range_end timestamptz,
    out feed text,
    out visible_until timestamptz
)
language plpgsql
stable
set search_path = ''
as $$
declare
    v_window record;
begin
    select w.* into strict v_window from md.quote_window(p_tier, p_now) as w;
    feed := v_window.feed;
    visible_until := v_window.visible_until;
    if p_start > p_end then
        perform mbt.raise_error('MBV03', 'start is after end.', format('start = %s, end = %s', p_start, p_end),
            'Give a start at or before the end.');
    end if;
    if greatest(p_start, p_end) > v_window.visible_until then
        perform mbt.raise_error('MBD01',
            format('Your tier (%s) sees market data delayed by %s: nothing after %s.',
                v_window.tier, v_window.delay, v_window.visible_until),
            format('start = %s, end = %s, visible_until = %s', p_start, p_end, v_window.visible_until),
            format('Ask for data up to %s (leave end out for the newest you may see), or upgrade to Pro for real-time data.',
                v_window.visible_until));
    end if;
    if p_start < v_window.visible_from then
        perform mbt.raise_error('MBD02',
            format('Your tier (%s) sees the last %s of market data: nothing before %s.',
                v_window.tier, v_window.history, v_window.visible_from),
            format('start = %s, visible_from = %s', p_start, v_window.visible_from),
            format('Ask for data from %s on, or upgrade to Pro+ for the whole archive.', v_window.visible_from));
    end if;
    range_end := coalesce(p_end, v_window.visible_until, 'infinity');
    -- Alpaca's default start: the beginning of the (New York) day of the end
    range_start := coalesce(
        p_start,
        greatest(
            (least(range_end, p_now) at time zone 'America/New_York')::date::timestamp at time zone 'America/New_York',
            v_window.visible_from
        )
    );
end;
$$;
comment on function md.requested_range(auth.tier, timestamptz, timestamptz, timestamptz) is
$$The [range_start, range_end] a history request reads, inside the tier's window at p_now (md.quote_window).
Defaults: end = the newest the tier sees, start = the beginning of that New York day.
Data newer than the window: MBD01; older: MBD02 (both 403).$$;
