-- Row-level security of mbt.trailing_marks (the engine's narrow copy of the live trailing stops' marks).
-- The engine's SECURITY DEFINER functions and triggers write it; api.orders reads it (a live trailing
-- stop's mark and stop as they stand: the engine moves them here alone), as api_owner, under the policy.

alter table mbt.trailing_marks enable row level security;

create policy "account holders see their own trailing marks" on mbt.trailing_marks
for select to api_owner
using (account_id in (
    select a.account_id from mbt.accounts as a
    where a.user_id = (select auth.current_user_id())
));

grant select on mbt.trailing_marks to api_owner;

-- mbt.trailing_extremes: the shared marks of riding trailing stops, a price per symbol and side (market data,
-- no account's): api.orders reads a rider's mark there
alter table mbt.trailing_extremes enable row level security;

create policy "shared trailing marks are prices the api reads" on mbt.trailing_extremes
for select to api_owner
using (true);

grant select on mbt.trailing_extremes to api_owner;

-- api.orders shows an untriggered trailing stop's stop where its mark puts it (mbt.order_stop_price): pure
-- functions of their arguments, read no table
grant execute on function
mbt.order_stop_price(mbt.orders),
mbt.trailing_stop_price(mbt.order_side, numeric, numeric, numeric)
to app_user, api_owner;
