-- The caller's open positions marked at the latest quote (read as api_owner: row-level security
-- keeps each caller to their own). Not exposed itself: api.positions and api.account read it.
-- lastday_price: the position's closing mark on the trading day before the current one (its end-of-day
-- snapshot, mbt.write_eod_snapshots); null when it was not held at that close.
create view api.position_marks as
select
    p.account_id,
    p.asset_id,
    p.symbol,
    coalesce(a.exchange, '') as exchange,
    p.asset_class,
    p.qty,
    p.avg_entry_price,
    p.realized_pl,
    a.marginable,
    a.maintenance_margin_requirement as long_percent,
    m.current_price,
    m.current_price * p.qty as market_value,
    l.close_price as lastday_price
from mbt.positions as p
left join md.assets as a on p.symbol = a.symbol
left join md.latest_quotes as q on p.symbol = q.symbol
cross join lateral (select mbt.mark_price(q.bid_price, q.ask_price, p.avg_entry_price) as current_price) as m
left join mbt.position_snapshots as l
    on
        p.account_id = l.account_id
        and p.symbol = l.symbol
        and l.trading_date = (
            -- the trading day before the one in progress (or last ended)
            select max(c.trading_date) from md.market_calendar as c
            where c.trading_date < (
                select max(d.trading_date) from md.market_calendar as d
                where d.session_open <= now()
            )
        )
where p.qty <> 0;

comment on view api.position_marks is 'Internal to the api views: your open positions with their mark. Not granted to callers.';
comment on column api.position_marks.account_id is 'Account.';
comment on column api.position_marks.asset_id is 'Asset id.';
comment on column api.position_marks.symbol is 'Symbol.';
comment on column api.position_marks.exchange is 'Listing exchange.';
comment on column api.position_marks.asset_class is 'Asset class.';
comment on column api.position_marks.qty is 'Shares; negative when short.';
comment on column api.position_marks.avg_entry_price is 'Average entry price, USD.';
comment on column api.position_marks.realized_pl is 'Realized P&L to date, USD.';
comment on column api.position_marks.marginable is 'Whether the asset is marginable.';
comment on column api.position_marks.long_percent is 'Maintenance rate for a long position, percent.';
comment on column api.position_marks.current_price is 'Mark: latest quote midpoint, USD.';
comment on column api.position_marks.market_value is 'qty x current_price, USD.';
comment on column api.position_marks.lastday_price is 'Closing mark on the previous trading day, USD (null if not held then).';
