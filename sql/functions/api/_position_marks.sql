-- The caller's open positions marked at the latest quote (read as api_owner: row-level security
-- keeps each caller to their own). Not exposed itself: api.positions and api.account read it.
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
    m.current_price * p.qty as market_value
from mbt.positions as p
left join md.assets as a on p.symbol = a.symbol
left join md.latest_quotes as q on p.symbol = q.symbol
cross join lateral (select mbt.mark_price(q.bid_price, q.ask_price, p.avg_entry_price) as current_price) as m
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
