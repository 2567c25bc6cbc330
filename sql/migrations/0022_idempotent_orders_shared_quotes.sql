-- 0022 idempotent orders, shared quotes (issue 17, parts 2 and 4; sql/schema/40_orders.sql).
--
-- A client_order_id is unique among all the orders an account keeps, not only its open ones, so that a
-- request sent again after its order filled or was canceled is refused (422 MBO09) instead of placed twice.
-- Orders kept from before could share an id (a replaced entry passed its id on to the order that replaced
-- it; a retried request made a second order once the first was no longer open): of each set, the newest
-- order keeps the id (the only one that could still be open), the older ones take '<id>~<order id>',
-- cut to the 128 characters the column allows.
with renamed as (
    select
        o.account_id,
        o.order_id,
        row_number() over (
            partition by o.account_id, o.client_order_id order by o.created_at desc, o.order_id desc
        ) as newest_first
    from mbt.orders as o
    where (o.account_id, o.client_order_id) in (
        select
            d.account_id,
            d.client_order_id
        from mbt.orders as d
        group by d.account_id, d.client_order_id
        having count(*) > 1
    )
)

update mbt.orders as o
set client_order_id = left(o.client_order_id, 91) || '~' || o.order_id::text
from renamed as r
where o.account_id = r.account_id and o.order_id = r.order_id and r.newest_first > 1;

drop index mbt.orders_open_client_order_id;
create unique index orders_client_order_id on mbt.orders (account_id, client_order_id);
comment on column mbt.orders.client_order_id is
'The caller''s id (up to 128 characters, no control characters), unique among all the account''s orders kept.';

-- One quote's displayed size is shared by one account's orders on its side: an order evaluated on a quote
-- after others of its account (at its submission) takes only what they left, which their fills say.
create index fills_account_quote on mbt.fills (account_id, quote_id);
comment on column mbt.fills.transaction_time is
'When it happened: the quote''s time, or the submission''s for a fill at submission (quote_time keeps the quote''s).';

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
