create view api.positions as
select
    v.asset_id,
    v.symbol,
    v.exchange,
    v.asset_class::text as asset_class,
    trim_scale(round(v.avg_entry_price, 4))::text as avg_entry_price,
    trim_scale(v.qty)::text as qty,
    case when v.qty > 0 then 'long' else 'short' end as side,
    round(v.market_value, 2)::text as market_value,
    round(v.avg_entry_price * v.qty, 2)::text as cost_basis,
    round(v.market_value - v.avg_entry_price * v.qty, 2)::text as unrealized_pl,
    round((v.market_value - v.avg_entry_price * v.qty) / nullif(abs(v.avg_entry_price * v.qty), 0), 6)::text
        as unrealized_plpc,
    trim_scale(round(v.current_price, 4))::text as current_price,
    trim_scale(round(v.lastday_price, 4))::text as lastday_price,
    round((v.current_price - v.lastday_price) / nullif(v.lastday_price, 0), 6)::text as change_today,
    round(v.realized_pl, 2)::text as realized_pl
from api.position_marks as v;

comment on view api.positions is $$Your open positions
Alpaca's Position fields, marked at the latest quote's midpoint. Numbers are decimal strings.$$;
comment on column api.positions.asset_id is 'Asset id.';
comment on column api.positions.symbol is 'Symbol.';
comment on column api.positions.exchange is 'Listing exchange.';
comment on column api.positions.asset_class is 'us_equity or us_option.';
comment on column api.positions.avg_entry_price is 'Average entry price, USD.';
comment on column api.positions.qty is 'Shares; negative when short.';
comment on column api.positions.side is 'long or short.';
comment on column api.positions.market_value is 'qty x current_price, USD.';
comment on column api.positions.cost_basis is 'qty x avg_entry_price, USD.';
comment on column api.positions.unrealized_pl is 'market_value - cost_basis, USD.';
comment on column api.positions.unrealized_plpc is 'unrealized_pl / |cost_basis|, a fraction (0.05 = 5%).';
comment on column api.positions.current_price is 'Midpoint of the latest quote, USD.';
comment on column api.positions.lastday_price is 'Mark at the previous trading day''s close (its end-of-day snapshot), USD; null if not held then.';
comment on column api.positions.change_today is '(current_price - lastday_price) / lastday_price, a fraction (0.01 = 1%).';
comment on column api.positions.realized_pl is 'Profit or loss realized on the symbol to date, USD.';

create view api.fills as
select
    f.fill_id as id,
    f.order_id,
    f.symbol,
    f.side::text as side,
    trim_scale(f.qty)::text as qty,
    trim_scale(f.price)::text as price,
    trim_scale(f.cum_qty)::text as cum_qty,
    trim_scale(f.leaves_qty)::text as leaves_qty,
    trim_scale(f.position_qty)::text as position_qty,
    trim_scale(f.realized_pl)::text as realized_pl,
    f.transaction_time,
    f.rule,
    f.engine_version,
    f.quote_id,
    trim_scale(f.quote_bid_price)::text as quote_bid_price,
    trim_scale(f.quote_ask_price)::text as quote_ask_price,
    trim_scale(f.quote_bid_size)::text as quote_bid_size,
    trim_scale(f.quote_ask_size)::text as quote_ask_size,
    f.quote_bid_exchange,
    f.quote_ask_exchange,
    f.quote_time
from mbt.fills as f;

comment on view api.fills is $$Your executions, with their evidence
Why did this fill at $X: each execution shows the NBBO quote that produced it and the rule that fired.$$;
comment on column api.fills.id is 'Execution id.';
comment on column api.fills.order_id is 'The order.';
comment on column api.fills.symbol is 'Symbol.';
comment on column api.fills.side is 'buy or sell.';
comment on column api.fills.qty is 'Shares in this execution.';
comment on column api.fills.price is 'Execution price, USD.';
comment on column api.fills.cum_qty is 'Order quantity filled after it.';
comment on column api.fills.leaves_qty is 'Order quantity left after it.';
comment on column api.fills.position_qty is 'Position after it (negative: short).';
comment on column api.fills.realized_pl is 'P&L realized by it, USD.';
comment on column api.fills.transaction_time is
'When it happened: the quote''s time, or the submission''s for a fill at submission (quote_time keeps the quote''s).';
comment on column api.fills.rule is 'The rule that fired: market_at_ask, market_at_bid, limit_marketable, stop_triggered_ask, ...';
comment on column api.fills.engine_version is 'Version of the fill rules.';
comment on column api.fills.quote_id is 'The quote that produced it.';
comment on column api.fills.quote_bid_price is 'That quote''s bid, USD.';
comment on column api.fills.quote_ask_price is 'That quote''s ask, USD.';
comment on column api.fills.quote_bid_size is 'That quote''s bid size.';
comment on column api.fills.quote_ask_size is 'That quote''s ask size.';
comment on column api.fills.quote_bid_exchange is 'That quote''s bid exchange.';
comment on column api.fills.quote_ask_exchange is 'That quote''s ask exchange.';
comment on column api.fills.quote_time is 'That quote''s exchange time.';
