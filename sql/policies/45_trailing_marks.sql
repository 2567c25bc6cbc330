-- Row-level security of mbt.trailing_marks (the engine's narrow copy of the live trailing stops' marks).
-- Only the engine's SECURITY DEFINER functions and triggers read or write it; no api view reads it (the
-- orders carry the same mark), so no role is granted it. The policy is there for the day one is.

alter table mbt.trailing_marks enable row level security;

create policy "account holders see their own trailing marks" on mbt.trailing_marks
for select to api_owner
using (account_id in (
    select a.account_id from mbt.accounts as a
    where a.user_id = (select auth.current_user_id())
));

-- api.orders shows an untriggered trailing stop's stop where its mark puts it (mbt.order_stop_price): pure
-- functions of their arguments, read no table
grant execute on function
mbt.order_stop_price(mbt.orders),
mbt.trailing_stop_price(mbt.order_side, numeric, numeric, numeric)
to app_user, api_owner;
