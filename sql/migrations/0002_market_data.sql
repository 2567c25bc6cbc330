-- 0002 market data: assets, option contracts, day-partitioned NBBO quotes, latest quotes, 1-minute bars, calendar.

-- md: market data. No user data here: every user reads it through tier-gated api views.
-- Quotes are partitioned by New York trading day; the latest quote per symbol is kept up to date
-- from each inserted batch, set-based.

create type md.asset_class as enum ('us_equity', 'us_option');
comment on type md.asset_class is 'Alpaca asset class.';

create type md.asset_status as enum ('active', 'inactive');
comment on type md.asset_status is 'Alpaca asset status.';

create type md.option_type as enum ('call', 'put');
comment on type md.option_type is 'Option type.';

create type md.option_style as enum ('american', 'european');
comment on type md.option_style is 'Exercise style.';

create table md.assets (
    asset_id uuid primary key default gen_random_uuid(),
    symbol text not null,
    asset_class md.asset_class not null default 'us_equity',
    exchange text not null,
    name text not null default '',
    status md.asset_status not null default 'active',
    tradable boolean not null default true,
    marginable boolean not null default true,
    shortable boolean not null default true,
    easy_to_borrow boolean not null default true,
    fractionable boolean not null default true,
    maintenance_margin_requirement numeric(5, 2) not null default 30,
    updated_at timestamptz not null default now(),
    constraint assets_symbol_is_upper check (symbol = upper(symbol) and symbol <> ''),
    constraint assets_maintenance_margin_percent check (maintenance_margin_requirement between 0 and 100)
);
create unique index assets_symbol_key on md.assets (symbol);
comment on table md.assets is 'Tradable instruments with Alpaca''s Asset attributes; options also have a row in md.option_contracts.';
comment on column md.assets.asset_id is 'Asset id (Alpaca: id).';
comment on column md.assets.symbol is 'Ticker, or OCC symbol for options (e.g. AAPL261218C00190000).';
comment on column md.assets.asset_class is 'us_equity or us_option.';
comment on column md.assets.exchange is 'Listing exchange (NASDAQ, NYSE, ARCA, BATS, AMEX, OTC, ...).';
comment on column md.assets.name is 'Company or contract name.';
comment on column md.assets.status is 'active or inactive.';
comment on column md.assets.tradable is 'Orders are accepted for it.';
comment on column md.assets.marginable is 'Counts toward margin (Reg T loan value).';
comment on column md.assets.shortable is 'Can be sold short.';
comment on column md.assets.easy_to_borrow is 'Easy to borrow; hard-to-borrow names cannot be shorted in paper trading.';
comment on column md.assets.fractionable is 'Fractional and notional orders are allowed.';
comment on column md.assets.maintenance_margin_requirement is 'Maintenance margin for a long position, percent of market value.';
comment on column md.assets.updated_at is 'When the row was last loaded.';

create table md.option_contracts (
    symbol text primary key,
    asset_id uuid not null references md.assets (asset_id),
    underlying_symbol text not null,
    root_symbol text not null,
    expiration_date date not null,
    option_type md.option_type not null,
    strike_price numeric(12, 3) not null,
    style md.option_style not null default 'american',
    multiplier numeric(12, 4) not null default 100,
    deliverables jsonb not null,
    constraint option_contracts_strike_positive check (strike_price > 0),
    constraint option_contracts_multiplier_positive check (multiplier > 0),
    constraint option_contracts_deliverables_is_array check (jsonb_typeof(deliverables) = 'array')
);
create unique index option_contracts_asset_id_key on md.option_contracts (asset_id);
create index option_contracts_chain on md.option_contracts (underlying_symbol, expiration_date, option_type, strike_price);
comment on table md.option_contracts is 'Listed option contracts. The deliverable is data, never assumed to be 100 shares (adjusted contracts).';
comment on column md.option_contracts.symbol is 'OCC symbol: root, yymmdd, C/P, strike x 1000 in 8 digits.';
comment on column md.option_contracts.asset_id is 'The contract''s row in md.assets.';
comment on column md.option_contracts.underlying_symbol is 'Symbol of the underlying equity.';
comment on column md.option_contracts.root_symbol is 'OCC root (differs from the underlying after some corporate actions).';
comment on column md.option_contracts.expiration_date is 'Last trading day (New York).';
comment on column md.option_contracts.option_type is 'call or put.';
comment on column md.option_contracts.strike_price is 'Strike, USD per unit of the deliverable.';
comment on column md.option_contracts.style is 'american or european exercise.';
comment on column md.option_contracts.multiplier is 'Contract multiplier: USD of premium per 1.00 of quoted price (normally 100).';
comment on column md.option_contracts.deliverables is
'What one contract delivers: [{"type": "equity", "symbol": "AAPL", "amount": 100}, {"type": "cash", "amount": ...}].';

create sequence md.quote_id_seq cache 1000;
comment on sequence md.quote_id_seq is 'Quote ids: unique across partitions, increasing in arrival order.';

create table md.quotes (
    quote_id bigint not null default nextval('md.quote_id_seq'),
    symbol text not null,
    bid_price numeric(14, 4) not null,
    ask_price numeric(14, 4) not null,
    bid_size numeric(14, 2) not null,
    ask_size numeric(14, 2) not null,
    bid_exchange text not null default '',
    ask_exchange text not null default '',
    conditions text[] not null default '{}',
    tape text,
    quote_time timestamptz not null,
    received_at timestamptz not null default clock_timestamp(),
    primary key (quote_id, quote_time),
    constraint quotes_prices_not_negative check (bid_price >= 0 and ask_price >= 0),
    constraint quotes_sizes_not_negative check (bid_size >= 0 and ask_size >= 0)
) partition by range (quote_time);
create index quotes_symbol_time on md.quotes (symbol, quote_time);
comment on table md.quotes is $$NBBO quotes, one partition per New York trading day (midnight to midnight ET).
Crossed or locked quotes are stored as received; the engine decides what may fill.$$;
comment on column md.quotes.quote_id is 'Quote id; fills keep it, with a copy of the quote.';
comment on column md.quotes.symbol is 'Ticker or OCC option symbol.';
comment on column md.quotes.bid_price is 'Best bid, USD.';
comment on column md.quotes.ask_price is 'Best ask (offer), USD.';
comment on column md.quotes.bid_size is 'Displayed size at the bid, shares (contracts for options).';
comment on column md.quotes.ask_size is 'Displayed size at the ask, shares (contracts for options).';
comment on column md.quotes.bid_exchange is 'Exchange code of the best bid (Alpaca one-letter codes).';
comment on column md.quotes.ask_exchange is 'Exchange code of the best ask.';
comment on column md.quotes.conditions is 'Quote condition codes.';
comment on column md.quotes.tape is 'SIP tape A, B or C (null for options).';
comment on column md.quotes.quote_time is 'Exchange timestamp of the quote: the engine''s clock.';
comment on column md.quotes.received_at is 'When MBT received it (ingest lag = received_at - quote_time).';

create table md.latest_quotes (
    symbol text primary key,
    quote_id bigint not null,
    bid_price numeric(14, 4) not null,
    ask_price numeric(14, 4) not null,
    bid_size numeric(14, 2) not null,
    ask_size numeric(14, 2) not null,
    bid_exchange text not null,
    ask_exchange text not null,
    conditions text[] not null,
    tape text,
    quote_time timestamptz not null
);
comment on table md.latest_quotes is
'The newest quote of each symbol (by quote_time), maintained from every batch inserted into md.quotes.';
comment on column md.latest_quotes.symbol is 'Ticker or OCC option symbol.';
comment on column md.latest_quotes.quote_id is 'The quote in md.quotes.';
comment on column md.latest_quotes.bid_price is 'Best bid, USD.';
comment on column md.latest_quotes.ask_price is 'Best ask, USD.';
comment on column md.latest_quotes.bid_size is 'Displayed bid size.';
comment on column md.latest_quotes.ask_size is 'Displayed ask size.';
comment on column md.latest_quotes.bid_exchange is 'Exchange of the best bid.';
comment on column md.latest_quotes.ask_exchange is 'Exchange of the best ask.';
comment on column md.latest_quotes.conditions is 'Quote condition codes.';
comment on column md.latest_quotes.tape is 'SIP tape.';
comment on column md.latest_quotes.quote_time is 'Exchange timestamp.';

create table md.bars_1m (
    symbol text not null,
    bar_time timestamptz not null,
    open_price numeric(14, 4) not null,
    high_price numeric(14, 4) not null,
    low_price numeric(14, 4) not null,
    close_price numeric(14, 4) not null,
    volume numeric(20, 2) not null,
    trade_count integer,
    vwap numeric(14, 4),
    primary key (symbol, bar_time),
    constraint bars_1m_high_low check (low_price <= least(open_price, close_price) and high_price >= greatest(open_price, close_price))
);
comment on table md.bars_1m is 'One-minute bars (Alpaca bars: o, h, l, c, v, n, vw).';
comment on column md.bars_1m.symbol is 'Ticker or OCC option symbol.';
comment on column md.bars_1m.bar_time is 'Start of the minute.';
comment on column md.bars_1m.open_price is 'First trade price in the minute, USD.';
comment on column md.bars_1m.high_price is 'Highest trade price, USD.';
comment on column md.bars_1m.low_price is 'Lowest trade price, USD.';
comment on column md.bars_1m.close_price is 'Last trade price, USD.';
comment on column md.bars_1m.volume is 'Shares (contracts) traded.';
comment on column md.bars_1m.trade_count is 'Number of trades.';
comment on column md.bars_1m.vwap is 'Volume-weighted average price, USD.';

create table md.market_calendar (
    trading_date date primary key,
    session_open timestamptz not null,
    market_open timestamptz not null,
    market_close timestamptz not null,
    session_close timestamptz not null,
    constraint market_calendar_order check (
        session_open <= market_open and market_open < market_close and market_close <= session_close
    )
);
comment on table md.market_calendar is 'NYSE (XNYS) trading days from exchange-calendars: holidays absent, early closes included.';
comment on column md.market_calendar.trading_date is 'Trading day (New York).';
comment on column md.market_calendar.session_open is 'Start of pre-market trading, 04:00 ET.';
comment on column md.market_calendar.market_open is 'Regular-session open, 09:30 ET.';
comment on column md.market_calendar.market_close is 'Regular-session close: 16:00 ET, 13:00 ET on early-close days.';
comment on column md.market_calendar.session_close is 'End of after-hours trading: 20:00 ET (17:00 ET after an early close).';
