-- Tier counts for analysts: accounts per current tier, and how many of them ordered and traded.
create view analytics.tiers as
select
    a.tier,
    count(*) as account_count,
    count(*) filter (where a.orders > 0) as ordered,
    count(*) filter (where a.fills > 0) as traded
from analytics.accounts as a
group by a.tier;

comment on view analytics.tiers is 'Accounts per current tier, and how many of them submitted an order and traded.';
comment on column analytics.tiers.tier is 'free, pro or pro_plus.';
comment on column analytics.tiers.account_count is 'Accounts on the tier, a count.';
comment on column analytics.tiers.ordered is 'Of them, accounts that submitted at least one (retained) order, a count.';
comment on column analytics.tiers.traded is 'Of them, accounts with at least one (retained) execution, a count.';
