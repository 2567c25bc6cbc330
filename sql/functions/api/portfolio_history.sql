-- GET /api/rpc/portfolio_history: Alpaca's GET /v2/account/portfolio/history, daily points.
create function api.portfolio_history(
    period text default null,
    timeframe text default null,
    date_end text default null
)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
    select mbt.portfolio_history(mbt.current_account_id(), $1, $2, $3, now())
$$;
comment on function api.portfolio_history(text, text, text) is $$Your portfolio history, Alpaca style
{timestamp (epoch seconds), equity, profit_loss, profit_loss_pct, base_value, base_value_asof, timeframe}: one point per trading day at its close, and today's equity so far.
period: <n>D, <n>W, <n>M, <n>A or all (default 1M); timeframe: 1D; date_end: the last day (YYYY-MM-DD, default today).$$;
