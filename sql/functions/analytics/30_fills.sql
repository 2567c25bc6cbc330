-- Executions for analysts, with their quote evidence (the copy of the NBBO each fill keeps) and the two
-- measures of fill quality per fill: the effective spread paid against the quote's midpoint, and the price
-- improvement (or, negative, slippage) against the NBBO midpoint at the order's submission.
create view analytics.fills as
select
    encode(substr(sha256(k.secret || uuid_send(f.fill_id)), 1, 16), 'hex') as fill_key,
    encode(substr(sha256(k.secret || uuid_send(f.order_id)), 1, 16), 'hex') as order_key,
    encode(substr(sha256(k.secret || uuid_send(f.account_id)), 1, 16), 'hex') as account_key,
    f.symbol,
    f.side::text as side,
    o.order_type::text as order_type,
    o.time_in_force::text as time_in_force,
    f.qty,
    f.price,
    f.qty * f.price as notional,
    f.rule,
    f.engine_version,
    f.quote_id,
    f.quote_bid_price as quote_bid,
    f.quote_ask_price as quote_ask,
    m.quote_mid,
    f.quote_bid_size,
    f.quote_ask_size,
    f.quote_bid_exchange,
    f.quote_ask_exchange,
    f.quote_time,
    f.transaction_time,
    (f.transaction_time at time zone 'America/New_York')::date as trading_date,
    f.cum_qty,
    f.leaves_qty,
    f.leaves_qty > 0 as is_partial,
    f.realized_pl,
    o.submitted_at as order_submitted_at,
    extract(epoch from f.transaction_time - least(f.transaction_time, o.submitted_at)) as seconds_since_submission,
    m.arrival_mid,
    2 * abs(f.price - m.quote_mid) / m.quote_mid * 10000 as effective_spread_bps,
    case
        when f.side = 'buy' then (m.arrival_mid - f.price) / m.arrival_mid * 10000
        else (f.price - m.arrival_mid) / m.arrival_mid * 10000
    end as price_improvement_bps
from mbt.fills as f
inner join mbt.orders as o on f.account_id = o.account_id and f.order_id = o.order_id
cross join analytics.pseudonym_secret as k
cross join lateral (
    select
        nullif((f.quote_bid_price + f.quote_ask_price) / 2, 0) as quote_mid,
        case when o.submitted_bid > 0 and o.submitted_ask > 0 then (o.submitted_bid + o.submitted_ask) / 2 end as arrival_mid
) as m;

comment on view analytics.fills is $$One row per execution with the quote that produced it (a copy, kept after market-data retention),
the effective spread paid and the price improvement against the arrival midpoint. Keys are pseudonymous.$$;
comment on column analytics.fills.fill_key is 'Pseudonymous execution key (32 hex digits).';
comment on column analytics.fills.order_key is 'Pseudonymous order key (analytics.orders).';
comment on column analytics.fills.account_key is 'Pseudonymous account key (analytics.accounts).';
comment on column analytics.fills.symbol is 'Ticker or OCC symbol.';
comment on column analytics.fills.side is 'buy or sell.';
comment on column analytics.fills.order_type is 'The order''s type: market, limit, stop, stop_limit or trailing_stop.';
comment on column analytics.fills.time_in_force is 'The order''s time in force.';
comment on column analytics.fills.qty is 'Quantity of this execution, shares.';
comment on column analytics.fills.price is 'Execution price, USD.';
comment on column analytics.fills.notional is 'qty x price, USD.';
comment on column analytics.fills.rule is 'The engine rule that fired, e.g. market_at_ask, limit_marketable, stop_triggered_bid.';
comment on column analytics.fills.engine_version is 'Version of the fill engine that made it.';
comment on column analytics.fills.quote_id is 'The quote (md.quotes id) that produced it.';
comment on column analytics.fills.quote_bid is 'Quote evidence: NBBO bid of that quote, USD.';
comment on column analytics.fills.quote_ask is 'Quote evidence: NBBO ask of that quote, USD.';
comment on column analytics.fills.quote_mid is 'Quote evidence: (quote_bid + quote_ask) / 2, USD.';
comment on column analytics.fills.quote_bid_size is 'Quote evidence: bid size, shares.';
comment on column analytics.fills.quote_ask_size is 'Quote evidence: ask size, shares.';
comment on column analytics.fills.quote_bid_exchange is 'Quote evidence: bid exchange (SIP code).';
comment on column analytics.fills.quote_ask_exchange is 'Quote evidence: ask exchange (SIP code).';
comment on column analytics.fills.quote_time is 'Quote evidence: the quote''s exchange time, timestamptz.';
comment on column analytics.fills.transaction_time is 'When the execution happened (the quote''s time), timestamptz.';
comment on column analytics.fills.trading_date is 'The New York date of the execution.';
comment on column analytics.fills.cum_qty is 'Order quantity filled after this execution, shares.';
comment on column analytics.fills.leaves_qty is 'Order quantity left after this execution, shares.';
comment on column analytics.fills.is_partial is 'A partial fill: the order had quantity left after it (leaves_qty > 0), boolean.';
comment on column analytics.fills.realized_pl is 'P&L realized by the closing part of this execution, USD.';
comment on column analytics.fills.order_submitted_at is 'When the order was submitted, timestamptz.';
comment on column analytics.fills.seconds_since_submission is 'transaction_time - order_submitted_at, seconds; 0 for a fill on submission.';
comment on column analytics.fills.arrival_mid is 'NBBO midpoint at the order''s submission, USD; null if it saw no quote (e.g. a bracket''s exits).';
comment on column analytics.fills.effective_spread_bps is 'Effective spread paid, 2 x |price - quote_mid| / quote_mid, basis points (1 bp = 0.01%).';
comment on column analytics.fills.price_improvement_bps is $$Price improvement against the arrival midpoint, basis points:
buys (arrival_mid - price) / arrival_mid,
sells (price - arrival_mid) / arrival_mid, x 10,000. Negative: slippage. Null without an arrival quote.$$;
