-- GET /api/rpc/account_activities: Alpaca's GET /v2/account/activities (with ?activity_types=FILL for
-- /v2/account/activities/FILL). Parameters as Alpaca names them, all optional; the work is
-- mbt.account_activities for the caller's account.
create function api.account_activities(
    activity_types text default null,
    category text default null,
    date text default null,
    after text default null,
    until text default null,
    direction text default null,
    page_size text default null,
    page_token text default null,
    order_id text default null
)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
    select mbt.account_activities(mbt.current_account_id(), $1, $2, $3, $4, $5, $6, $7, $8, $9)
$$;
comment on function api.account_activities(text, text, text, text, text, text, text, text, text) is $$Your account activities, Alpaca style
Trade activities (FILL: order_id, price, qty, side, cum_qty, leaves_qty, transaction_time, type fill or partial_fill) and non-trade activities (CSD deposits, ...).
activity_types: comma-separated (or category trade_activity | non_trade_activity); date (a New York day) or after / until; direction desc (default) or asc; page_size 1-100 (default 100); page_token: the id of the last activity of the previous page.$$;
