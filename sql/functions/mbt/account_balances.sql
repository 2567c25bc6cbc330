-- Balances in Alpaca's terms, for the engine and for analysts: every account's positions marked at the
-- latest quote's midpoint, and the balances from them, the cash and the holds of open orders.
-- The rules are the functions of margin_rules.sql; the api views apply the same ones per caller.
create view mbt.position_values as
select
    p.account_id,
    p.symbol,
    p.asset_id,
    p.asset_class,
    p.qty,
    p.avg_entry_price,
    p.realized_pl,
    m.current_price,
    m.current_price * p.qty as market_value,
    p.avg_entry_price * p.qty as cost_basis,
    (m.current_price - p.avg_entry_price) * p.qty as unrealized_pl,
    mbt.initial_margin(m.current_price * p.qty, a.marginable) as initial_margin,
    mbt.maintenance_margin(p.qty, m.current_price, a.maintenance_margin_requirement) as maintenance_margin
from mbt.positions as p
left join md.assets as a on p.symbol = a.symbol
left join md.latest_quotes as q on p.symbol = q.symbol
cross join lateral (select mbt.mark_price(q.bid_price, q.ask_price, p.avg_entry_price) as current_price) as m
where p.qty <> 0;

comment on view mbt.position_values is $$Open positions marked to market: at the latest quote's midpoint (the entry price if there is none).
Margin: Reg T initial 50% (100% non-marginable); maintenance long 30% (100% under $2.50), short max(30%, $5/share) or, under $5, max(100%, $2.50/share).$$;
comment on column mbt.position_values.account_id is 'Account.';
comment on column mbt.position_values.symbol is 'Symbol.';
comment on column mbt.position_values.asset_id is 'Asset.';
comment on column mbt.position_values.asset_class is 'Asset class.';
comment on column mbt.position_values.qty is 'Shares; negative when short.';
comment on column mbt.position_values.avg_entry_price is 'Average entry price, USD.';
comment on column mbt.position_values.realized_pl is 'Realized P&L on the symbol to date, USD.';
comment on column mbt.position_values.current_price is 'Mark: midpoint of the latest quote, USD.';
comment on column mbt.position_values.market_value is 'qty x current_price (negative when short), USD.';
comment on column mbt.position_values.cost_basis is 'qty x avg_entry_price, USD.';
comment on column mbt.position_values.unrealized_pl is 'market_value - cost_basis, USD.';
comment on column mbt.position_values.initial_margin is 'Reg T initial requirement, USD.';
comment on column mbt.position_values.maintenance_margin is 'Maintenance requirement, USD.';

create view mbt.account_balances as
select
    a.account_id,
    e.equity,
    e.equity as last_equity,
    v.long_market_value,
    v.short_market_value,
    v.initial_margin,
    v.maintenance_margin,
    h.held,
    mbt.buying_power(a.multiplier, a.cash, e.equity, v.initial_margin, h.held) as buying_power,
    mbt.buying_power(2::smallint, a.cash, e.equity, v.initial_margin, h.held) as regt_buying_power,
    mbt.cash_buying_power(a.cash, e.equity, v.initial_margin, h.held) as non_marginable_buying_power,
    mbt.cash_buying_power(a.cash, e.equity, v.initial_margin, h.held) as options_buying_power
from mbt.accounts as a
cross join
    lateral (
        select
            coalesce(sum(pv.market_value) filter (where pv.qty > 0), 0) as long_market_value,
            coalesce(sum(pv.market_value) filter (where pv.qty < 0), 0) as short_market_value,
            coalesce(sum(pv.initial_margin), 0) as initial_margin,
            coalesce(sum(pv.maintenance_margin), 0) as maintenance_margin
        from mbt.position_values as pv
        where pv.account_id = a.account_id
    ) as v
cross join
    lateral (
        select coalesce(sum(o.buying_power_held), 0) as held
        from mbt.orders as o
        where o.account_id = a.account_id and o.status in ('new', 'partially_filled', 'accepted', 'held')
    ) as h
cross join lateral (select a.cash + v.long_market_value + v.short_market_value as equity) as e;

comment on view mbt.account_balances is $$Equity, market values, margin and buying power per account, USD.
Reg T: buying_power = max(equity - initial_margin, 0) x multiplier, less what open orders hold; under $2,000 equity or with multiplier 1, cash less holds.$$;
comment on column mbt.account_balances.account_id is 'Account.';
comment on column mbt.account_balances.equity is 'cash + long_market_value + short_market_value, USD.';
comment on column mbt.account_balances.last_equity is 'Equity at the previous close, USD (the current equity until end-of-day snapshots exist).';
comment on column mbt.account_balances.long_market_value is 'Market value of long positions, USD.';
comment on column mbt.account_balances.short_market_value is 'Market value of short positions (negative), USD.';
comment on column mbt.account_balances.initial_margin is 'Reg T initial margin requirement, USD.';
comment on column mbt.account_balances.maintenance_margin is 'Maintenance margin requirement, USD.';
comment on column mbt.account_balances.held is 'Buying power reserved by open opening orders, USD.';
comment on column mbt.account_balances.buying_power is 'Buying power left for marginable stock, USD.';
comment on column mbt.account_balances.regt_buying_power is 'Reg T (2x) buying power left, USD.';
comment on column mbt.account_balances.non_marginable_buying_power is 'Buying power left for non-marginable securities, USD.';
comment on column mbt.account_balances.options_buying_power is 'Buying power left for options, USD.';
