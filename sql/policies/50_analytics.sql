-- The analyst role: read-only, the analytics views only (no auth, mbt, md, jobs or api object, no
-- personal column). The views are owned by dba, the tables' owner, so they read every account's rows
-- (RLS does not apply to a table's owner) and show them under pseudonymous keys; the analyst itself has
-- no privilege on any table, and analytics.pseudonym_secret (the pseudonyms' key) is granted to nobody.
-- Role settings (read-only transactions, a 30 s statement timeout) are in sql/roles.sql.
grant usage on schema analytics to analyst;
grant select on
analytics.accounts,
analytics.orders,
analytics.fills,
analytics.daily_equity,
analytics.fill_quality,
analytics.cohorts,
analytics.tiers
to analyst;
-- a pure rule analytics.orders applies (a trailing stop's stop price from its mark): an inlined SQL function,
-- run as the caller, whose body names mbt (schema usage only: no mbt table or other function is granted)
grant usage on schema mbt to analyst;
grant execute on function mbt.order_stop_price(mbt.orders), mbt.trailing_stop_price(mbt.order_side, numeric, numeric, numeric)
to analyst;
