-- Orders, fills, positions and the audit trail of the paper brokerage (Alpaca's order model,
-- shared/reference/alpaca.md section 1). Every table carries account_id first in its primary key.

create type mbt.order_side as enum ('buy', 'sell');
comment on type mbt.order_side is 'Alpaca order side.';

create type mbt.order_type as enum ('market', 'limit', 'stop', 'stop_limit', 'trailing_stop');
comment on type mbt.order_type is 'Alpaca order type.';

create type mbt.time_in_force as enum ('day', 'gtc', 'opg', 'cls', 'ioc', 'fok');
comment on type mbt.time_in_force is 'Alpaca time in force.';

create type mbt.order_class as enum ('simple', 'bracket', 'oco', 'oto', 'mleg');
comment on type mbt.order_class is 'Alpaca order class.';

create type mbt.order_status as enum (
    'new', 'partially_filled', 'filled', 'done_for_day', 'canceled', 'expired', 'replaced',
    'pending_cancel', 'pending_replace', 'accepted', 'pending_new', 'accepted_for_bidding', 'stopped',
    'rejected', 'suspended', 'calculated', 'held'
);
comment on type mbt.order_status is 'Alpaca order status (the OpenAPI''s 17 values).';

create type mbt.position_intent as enum ('buy_to_open', 'buy_to_close', 'sell_to_open', 'sell_to_close');
comment on type mbt.position_intent is 'Whether an order opens or closes a position, and on which side.';

create table mbt.orders (
    account_id uuid not null references mbt.accounts (account_id) on delete cascade,
    order_id uuid not null default gen_random_uuid(),
    client_order_id text not null,
    symbol text not null,
    asset_id uuid not null,
    asset_class md.asset_class not null,
    side mbt.order_side not null,
    order_type mbt.order_type not null,
    time_in_force mbt.time_in_force not null,
    order_class mbt.order_class not null default 'simple',
    position_intent mbt.position_intent not null,
    qty numeric(24, 9),
    notional numeric(20, 2),
    limit_price numeric(14, 4),
    stop_price numeric(14, 4),
    trail_price numeric(14, 4),
    trail_percent numeric(7, 4),
    hwm numeric(14, 4),
    extended_hours boolean not null default false,
    status mbt.order_status not null,
    filled_qty numeric(24, 9) not null default 0,
    filled_avg_price numeric(18, 9),
    buying_power_held numeric(20, 2) not null default 0,
    replaces uuid,
    replaced_by uuid,
    submitted_bid numeric(14, 4),
    submitted_ask numeric(14, 4),
    submitted_quote_time timestamptz,
    created_at timestamptz not null,
    updated_at timestamptz not null,
    submitted_at timestamptz not null,
    stop_triggered_at timestamptz,
    filled_at timestamptz,
    canceled_at timestamptz,
    expired_at timestamptz,
    replaced_at timestamptz,
    failed_at timestamptz,
    expires_at timestamptz,
    primary key (account_id, order_id),
    constraint orders_qty_xor_notional check ((qty is null) <> (notional is null)),
    constraint orders_qty_positive check (qty > 0),
    constraint orders_notional_positive check (notional > 0),
    constraint orders_filled_within_qty check (filled_qty >= 0 and (qty is null or filled_qty <= qty)),
    constraint orders_prices_positive check (limit_price > 0 and stop_price > 0),
    constraint orders_client_order_id_length check (length(client_order_id) between 1 and 128),
    constraint orders_hold_not_negative check (buying_power_held >= 0)
);
-- a client_order_id names one order of the account for as long as the order is kept, whatever became of
-- it: a request sent again (a client retrying a POST) is refused, not placed twice
create unique index orders_client_order_id on mbt.orders (account_id, client_order_id);
create index orders_account_created on mbt.orders (account_id, created_at desc);
create index orders_resting_by_symbol on mbt.orders (symbol)
where status in ('new', 'partially_filled', 'accepted');
comment on table mbt.orders is 'Orders with Alpaca''s fields. A replace creates a new row (replaces / replaced_by link them).';
comment on column mbt.orders.account_id is 'Account.';
comment on column mbt.orders.order_id is 'Order id (Alpaca: id).';
comment on column mbt.orders.client_order_id is
'The caller''s id (up to 128 characters, no control characters), unique among all the account''s orders kept.';
comment on column mbt.orders.symbol is 'Ticker or OCC symbol.';
comment on column mbt.orders.asset_id is 'The asset (md.assets) at submission.';
comment on column mbt.orders.asset_class is 'us_equity or us_option.';
comment on column mbt.orders.side is 'buy or sell.';
comment on column mbt.orders.order_type is 'market, limit, stop, stop_limit or trailing_stop (Alpaca: type).';
comment on column mbt.orders.time_in_force is 'day, gtc, opg, cls, ioc or fok.';
comment on column mbt.orders.order_class is 'simple, bracket, oco, oto or mleg.';
comment on column mbt.orders.position_intent is 'Opens or closes, long or short: decided at submission from the position.';
comment on column mbt.orders.qty is 'Ordered quantity, shares (up to 9 decimals for fractional orders); null for notional orders.';
comment on column mbt.orders.notional is 'Ordered amount, USD; null for qty orders.';
comment on column mbt.orders.limit_price is 'Limit price, USD.';
comment on column mbt.orders.stop_price is $$Stop (trigger) price, USD. For a trailing stop: the stop at submission
until it triggers, then the stop it triggered at; meanwhile the stop follows hwm (mbt.order_stop_price).$$;
comment on column mbt.orders.trail_price is 'Trailing stop offset, USD.';
comment on column mbt.orders.trail_percent is 'Trailing stop offset, percent.';
comment on column mbt.orders.hwm is 'High-water mark of a trailing stop (sell: highest bid, buy: lowest ask), USD.';
comment on column mbt.orders.extended_hours is 'May fill in the pre-market and after-hours sessions (limit, day only).';
comment on column mbt.orders.status is 'Alpaca order status.';
comment on column mbt.orders.filled_qty is 'Quantity filled so far, shares.';
comment on column mbt.orders.filled_avg_price is 'Volume-weighted average fill price, USD.';
comment on column mbt.orders.buying_power_held is 'Buying power reserved for the unfilled part of an opening order, USD.';
comment on column mbt.orders.replaces is 'The order this one replaced.';
comment on column mbt.orders.replaced_by is 'The order that replaced this one.';
comment on column mbt.orders.submitted_bid is 'NBBO bid at submission, USD (for slippage against the midpoint).';
comment on column mbt.orders.submitted_ask is 'NBBO ask at submission, USD.';
comment on column mbt.orders.submitted_quote_time is 'Time of the quote the submission saw.';
comment on column mbt.orders.created_at is 'When the order was created (the as_of of the submission).';
comment on column mbt.orders.updated_at is 'Last change.';
comment on column mbt.orders.submitted_at is 'When it was submitted.';
comment on column mbt.orders.stop_triggered_at is 'When the stop was triggered (time of the triggering quote).';
comment on column mbt.orders.filled_at is 'When it was completely filled.';
comment on column mbt.orders.canceled_at is 'When it was canceled.';
comment on column mbt.orders.expired_at is 'When it expired.';
comment on column mbt.orders.replaced_at is 'When it was replaced.';
comment on column mbt.orders.failed_at is 'When it was rejected.';
comment on column mbt.orders.expires_at is 'When a GTC order is canceled automatically (90 days).';

create table mbt.fills (
    account_id uuid not null,
    fill_id uuid not null default gen_random_uuid(),
    order_id uuid not null,
    symbol text not null,
    side mbt.order_side not null,
    qty numeric(24, 9) not null,
    price numeric(14, 4) not null,
    rule text not null,
    engine_version text not null,
    quote_id bigint not null,
    quote_bid_price numeric(14, 4) not null,
    quote_ask_price numeric(14, 4) not null,
    quote_bid_size numeric(14, 2) not null,
    quote_ask_size numeric(14, 2) not null,
    quote_bid_exchange text not null,
    quote_ask_exchange text not null,
    quote_time timestamptz not null,
    cum_qty numeric(24, 9) not null,
    leaves_qty numeric(24, 9) not null,
    position_qty numeric(24, 9) not null,
    realized_pl numeric(20, 4) not null default 0,
    transaction_time timestamptz not null,
    primary key (account_id, fill_id),
    foreign key (account_id, order_id) references mbt.orders (account_id, order_id) on delete cascade,
    constraint fills_qty_positive check (qty > 0),
    constraint fills_price_positive check (price > 0)
);
create index fills_account_order on mbt.fills (account_id, order_id);
-- what the account's orders already took of a quote's displayed size, for an order evaluated on it later
create index fills_account_quote on mbt.fills (account_id, quote_id);
comment on table mbt.fills is $$Executions. Each keeps the quote that produced it (id and a copy) and the rule that fired,
so "why did this fill at $X" is answerable after the quote itself is gone.$$;
comment on column mbt.fills.account_id is 'Account.';
comment on column mbt.fills.fill_id is 'Execution id.';
comment on column mbt.fills.order_id is 'The order filled.';
comment on column mbt.fills.symbol is 'Ticker or OCC symbol.';
comment on column mbt.fills.side is 'buy or sell.';
comment on column mbt.fills.qty is 'Quantity of this execution, shares.';
comment on column mbt.fills.price is 'Execution price, USD.';
comment on column mbt.fills.rule is 'The rule that fired, e.g. market_at_ask, limit_marketable, stop_triggered_bid.';
comment on column mbt.fills.engine_version is 'Version of the fill engine that made it (replay compares like with like).';
comment on column mbt.fills.quote_id is 'The quote (md.quotes) that produced the fill.';
comment on column mbt.fills.quote_bid_price is 'Copy of the quote: bid, USD.';
comment on column mbt.fills.quote_ask_price is 'Copy of the quote: ask, USD.';
comment on column mbt.fills.quote_bid_size is 'Copy of the quote: bid size.';
comment on column mbt.fills.quote_ask_size is 'Copy of the quote: ask size.';
comment on column mbt.fills.quote_bid_exchange is 'Copy of the quote: bid exchange.';
comment on column mbt.fills.quote_ask_exchange is 'Copy of the quote: ask exchange.';
comment on column mbt.fills.quote_time is 'Copy of the quote: exchange timestamp.';
comment on column mbt.fills.cum_qty is 'Order quantity filled after this execution.';
comment on column mbt.fills.leaves_qty is 'Order quantity left after this execution.';
comment on column mbt.fills.position_qty is 'Position after this execution (negative: short).';
comment on column mbt.fills.realized_pl is 'Profit or loss realized by the closing part of this execution, USD.';
comment on column mbt.fills.transaction_time is
'When it happened: the quote''s time, or the submission''s for a fill at submission (quote_time keeps the quote''s).';

create table mbt.positions (
    account_id uuid not null references mbt.accounts (account_id) on delete cascade,
    symbol text not null,
    asset_id uuid not null,
    asset_class md.asset_class not null,
    qty numeric(24, 9) not null,
    avg_entry_price numeric(18, 9) not null,
    realized_pl numeric(20, 4) not null default 0,
    opened_at timestamptz not null,
    updated_at timestamptz not null,
    primary key (account_id, symbol)
);
comment on table mbt.positions is 'Open positions (qty <> 0 while open; a closed position keeps its realized P&L until purged).';
comment on column mbt.positions.account_id is 'Account.';
comment on column mbt.positions.symbol is 'Ticker or OCC symbol.';
comment on column mbt.positions.asset_id is 'The asset.';
comment on column mbt.positions.asset_class is 'us_equity or us_option.';
comment on column mbt.positions.qty is 'Shares held; negative for a short position.';
comment on column mbt.positions.avg_entry_price is 'Average entry price of the open quantity, USD.';
comment on column mbt.positions.realized_pl is 'Realized profit or loss on this symbol to date, USD.';
comment on column mbt.positions.opened_at is 'When the current position was opened.';
comment on column mbt.positions.updated_at is 'Last change.';

create table mbt.order_events (
    account_id uuid not null,
    event_id bigint generated always as identity,
    order_id uuid not null,
    event text not null,
    event_at timestamptz not null,
    fill_id uuid,
    order_state jsonb not null,
    primary key (account_id, event_id),
    foreign key (account_id, order_id) references mbt.orders (account_id, order_id) on delete cascade,
    constraint order_events_event_known check (event in (
        'submitted', 'accepted', 'rejected', 'replaced', 'pending_cancel', 'canceled', 'partial_fill', 'fill',
        'expired', 'done_for_day', 'exercised', 'assigned', 'corporate_action'
    ))
);
create index order_events_order on mbt.order_events (account_id, order_id, event_id);
comment on table mbt.order_events is 'Append-only audit trail: one row per order lifecycle event with the order''s state after it.';
comment on column mbt.order_events.account_id is 'Account.';
comment on column mbt.order_events.event_id is 'Event id, increasing.';
comment on column mbt.order_events.order_id is 'The order.';
comment on column mbt.order_events.event is 'submitted, accepted, rejected, replaced, pending_cancel, canceled, partial_fill, fill, expired, ...';
comment on column mbt.order_events.event_at is 'When it happened (quote time or as_of).';
comment on column mbt.order_events.fill_id is 'The execution, for fill events.';
comment on column mbt.order_events.order_state is 'The order as the API shows it, after the event.';

create type mbt.fill_model as enum ('displayed_size', 'full');
comment on type mbt.fill_model is 'displayed_size: one quote fills at most its displayed size; full: fills whole, as Alpaca paper does.';

alter table mbt.accounts add column fill_model mbt.fill_model not null default 'displayed_size';
comment on column mbt.accounts.fill_model is 'How much one quote may fill: its displayed size, or everything (Alpaca paper).';

create type mbt.position_state as (qty numeric, avg_price numeric, realized_pl numeric);
comment on type mbt.position_state is 'Running position while fills are applied in order: quantity, average entry price, realized P&L.';

create type mbt.displayed_share as (
    quote_id bigint,
    used numeric,
    took numeric,
    allocation_keys uuid [],
    allocated numeric []
);
comment on type mbt.displayed_share is $$Running share of quotes' displayed sizes among one account's orders on one side
(mbt.share_displayed): the quote being shared, how much of its size is used, what the last order took, and what each
allocation key (an order, or a group's exits) took so far.$$;

create type mbt.order_ref as (account_id uuid, order_id uuid);
comment on type mbt.order_ref is 'An order by its primary key, e.g. the orders a fill-engine call is limited to.';
