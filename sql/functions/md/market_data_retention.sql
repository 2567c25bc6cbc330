-- Market-data retention: the archive keeps md.market_data_archive_days() whole New York days back
-- from as_of; older quote partitions are dropped and older bars deleted. Fills keep their own copy
-- of their quote (mbt.fills.quote_*), so nothing a user owns goes with them. The same run creates the
-- quote partitions of the days ahead. as_of comes from the job; nothing here reads the clock.

create or replace function md.market_data_archive_days()
returns integer
language sql
stable
as $$
    select coalesce(nullif(current_setting('mbt.market_data_archive_days', true), '')::integer, 365)
$$;
comment on function md.market_data_archive_days() is $$How many days of quotes and bars the archive keeps (Pro+ sees all of it).
Setting mbt.market_data_archive_days (ALTER DATABASE mbt SET mbt.market_data_archive_days = 730), default 365.$$;

create or replace function md.apply_market_data_retention(
    p_as_of timestamptz,
    p_archive_days integer default null,
    p_days_ahead integer default 7
)
returns table (
    cutoff_day date,
    partitions_dropped integer,
    bars_deleted bigint,
    partitions_created integer
)
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_archive_days integer := coalesce(p_archive_days, md.market_data_archive_days());
    v_today date := (p_as_of at time zone 'America/New_York')::date;
    v_longest_window integer;
begin
    -- the archive must hold at least what the tiers with a bounded history are promised
    select max(extract(day from w.history))::integer into v_longest_window
    from unnest(enum_range(null::auth.tier)) as t (tier)
    cross join lateral md.quote_window(t.tier, p_as_of) as w;
    if p_as_of is null or v_archive_days is null or v_archive_days < v_longest_window
        or p_days_ahead is null or p_days_ahead not between 0 and 366 then
        perform mbt.raise_error('MBV03', 'Invalid market-data retention parameters.',
            format('as_of = %s, archive_days = %s, days_ahead = %s', p_as_of, v_archive_days, p_days_ahead),
            format('as_of is required; archive_days at least %s (the longest tier history window); days_ahead 0 to 366.',
                v_longest_window));
    end if;

    cutoff_day := v_today - v_archive_days;
    partitions_dropped := md.drop_quote_partitions(cutoff_day);
    delete from md.bars_1m as b
    where b.bar_time < cutoff_day::timestamp at time zone 'America/New_York';
    get diagnostics bars_deleted = row_count;
    partitions_created := md.ensure_quote_partitions(v_today - 1, v_today + p_days_ahead);
    return next;
end;
$$;
comment on function md.apply_market_data_retention(timestamptz, integer, integer) is
$$Market-data retention at p_as_of: drop the md.quotes partitions and delete the md.bars_1m rows of New York days before
cutoff_day = (p_as_of's New York date - archive days), then create the partitions from yesterday to p_days_ahead days ahead.
archive days: p_archive_days, else md.market_data_archive_days(); at least the longest tier history window. Idempotent.$$;
