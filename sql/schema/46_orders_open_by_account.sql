-- A submission's checks against the account's own open orders (wash trade, the open quantity on the
-- same side, the buying power they hold) read only those orders, not the account's whole history.
create index orders_open_by_account on mbt.orders (account_id, symbol, side) include (buying_power_held)
where status in ('new', 'partially_filled', 'accepted', 'held');
