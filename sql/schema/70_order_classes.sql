-- Order classes (bracket, oco, oto) and their legs. The orders of one group share group_id (the id
-- of the order that opened the group); leg says what each order is to the group. Exit legs of one
-- group are one-cancels-other: every open exit leg leaves the same quantity, what remains of the
-- position the group protects.
create type mbt.order_leg as enum ('entry', 'take_profit', 'stop_loss');
comment on type mbt.order_leg is 'The part an order plays in its group: the entry, or one of the exits.';

alter table mbt.orders
add column group_id uuid,
add column leg mbt.order_leg,
add column parent_order_id uuid,
add column activated_at timestamptz,
add constraint orders_leg_in_group check ((group_id is null) = (leg is null));

create index orders_group on mbt.orders (account_id, group_id) where group_id is not null;

comment on column mbt.orders.group_id is
'The bracket, oco or oto group: the id of the order that opened it (kept across replaces); null for simple orders.';
comment on column mbt.orders.leg is 'entry, take_profit or stop_loss; null for simple orders.';
comment on column mbt.orders.parent_order_id is
'The order this leg hangs under in Alpaca''s nested view (the entry; for oco the take-profit); null for parents.';
comment on column mbt.orders.activated_at is
'When a held exit leg became live: the time of the quote that completed its entry. It fills only on later quotes.';
