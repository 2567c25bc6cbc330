create function api.ping()
returns text
language sql
immutable
as $$
    select 'pong'::text
$$;
comment on function api.ping() is $$Liveness check
Answers "pong" without touching any table: the cheapest authenticated round trip, for health checks and latency baselines.$$;
