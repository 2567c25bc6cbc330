-- Engine settings: database settings with defaults (ALTER DATABASE mbt SET mbt.quote_staleness = '2 s').
create or replace function mbt.quote_staleness()
returns interval
language sql
stable
as $$
    select coalesce(nullif(current_setting('mbt.quote_staleness', true), '')::interval, interval '5 seconds')
$$;
comment on function mbt.quote_staleness() is $$How late a quote may arrive and still fill (received_at - quote_time),
and how old the latest quote may be for an immediate fill at submission. Setting mbt.quote_staleness, default 5 s.$$;

create or replace function mbt.engine_version()
returns text
language sql
immutable
as $$
    select 'mbt-engine/1'::text
$$;
comment on function mbt.engine_version() is 'Version of the fill rules, stored on every fill so a replay compares like with like.';
