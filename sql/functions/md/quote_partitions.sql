-- Partitions of md.quotes: one per New York trading day, [00:00 ET, next 00:00 ET). A day that
-- changes daylight saving time is 23 or 25 hours long. Maintenance jobs and the ingestor pass the
-- dates; nothing here reads the clock. SECURITY DEFINER: partitions belong to dba, whoever asks.
create or replace function md.ensure_quote_partitions(p_first_day date, p_last_day date)
returns integer
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_day date;
    v_created integer := 0;
begin
    for v_day in select d::date from generate_series(p_first_day, p_last_day, interval '1 day') as g (d) loop
        if to_regclass(format('md.quotes_%s', to_char(v_day, 'YYYYMMDD'))) is null then
            execute format(
                'create table md.%I partition of md.quotes for values from (%L) to (%L)',
                'quotes_' || to_char(v_day, 'YYYYMMDD'),
                v_day::timestamp at time zone 'America/New_York',
                (v_day + 1)::timestamp at time zone 'America/New_York'
            );
            v_created := v_created + 1;
        end if;
    end loop;
    return v_created;
end;
$$;
comment on function md.ensure_quote_partitions(date, date) is
'Create the md.quotes partitions of the New York days from p_first_day to p_last_day that are missing; returns how many.';

create or replace function md.drop_quote_partitions(p_before date)
returns integer
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_partition text;
    v_dropped integer := 0;
begin
    for v_partition in
        select c.relname
        from pg_catalog.pg_inherits as i
        inner join pg_catalog.pg_class as c on i.inhrelid = c.oid
        where i.inhparent = 'md.quotes'::regclass
            and c.relname ~ '^quotes_\d{8}$'
            and to_date(substr(c.relname, 8), 'YYYYMMDD') < p_before
        order by c.relname
    loop
        execute format('drop table md.%I', v_partition);
        v_dropped := v_dropped + 1;
    end loop;
    return v_dropped;
end;
$$;
comment on function md.drop_quote_partitions(date) is
'Drop the md.quotes partitions of New York days before p_before (market-data retention); returns how many. Fills keep their own copy of the quote.';
