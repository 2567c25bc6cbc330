-- Tier and cohort counts for analysts: sign-ups per week or month cohort and tier, and how many traded.
create view analytics.cohorts as
select
    g.grain,
    g.cohort_start,
    a.tier,
    count(*) as signups,
    count(*) filter (where a.orders > 0) as ordered,
    count(*) filter (where a.fills > 0) as traded
from analytics.accounts as a
cross join lateral (values ('week', a.signup_week), ('month', a.signup_month)) as g (grain, cohort_start)
group by g.grain, g.cohort_start, a.tier;

comment on view analytics.cohorts is 'Sign-up cohorts (by New York week or month) per tier: how many signed up, submitted an order, and traded.';
comment on column analytics.cohorts.grain is 'week or month.';
comment on column analytics.cohorts.cohort_start is 'First day of the cohort, New York date: the Monday of the week, or the 1st of the month.';
comment on column analytics.cohorts.tier is 'Current tier of the accounts: free, pro or pro_plus.';
comment on column analytics.cohorts.signups is 'Accounts opened in the cohort, a count.';
comment on column analytics.cohorts.ordered is 'Of them, accounts that submitted at least one (retained) order, a count.';
comment on column analytics.cohorts.traded is 'Of them, accounts with at least one (retained) execution, a count.';
