-- GET /api/assets (Alpaca's GET /v2/assets; filter with ?status=eq.active, ?class=eq.us_equity) and
-- GET /api/assets?symbol=eq.AAPL with Accept: application/vnd.pgrst.object+json (GET /v2/assets/{symbol}).
-- Reference data without prices: anonymous callers may read it too.
create view api.assets as
select
    a.asset_id as id,
    a.asset_class::text as class,  -- noqa: RF04
    a.exchange,
    a.symbol,
    a.name,
    a.status::text as status,
    a.tradable,
    a.marginable,
    a.shortable,
    a.easy_to_borrow,
    a.fractionable,
    trim_scale(a.maintenance_margin_requirement)::text as maintenance_margin_requirement,
    case
        when exists (
            select from md.option_contracts as c
            where c.underlying_symbol = a.symbol
        ) then array['has_options']
        else '{}'::text[]
    end as attributes
from md.assets as a;

comment on view api.assets is $$Assets
Alpaca's Asset fields: what can be traded, and how. Filter with PostgREST: ?symbol=eq.AAPL, ?status=eq.active, ?class=eq.us_option.$$;
comment on column api.assets.id is 'Asset id.';
comment on column api.assets.class is 'us_equity or us_option.';
comment on column api.assets.exchange is 'Listing exchange (NASDAQ, NYSE, ARCA, BATS, AMEX, OTC, ...).';
comment on column api.assets.symbol is 'Ticker, or OCC symbol for an option.';
comment on column api.assets.name is 'Company or contract name.';
comment on column api.assets.status is 'active or inactive.';
comment on column api.assets.tradable is 'Orders are accepted for it.';
comment on column api.assets.marginable is 'Counts toward margin.';
comment on column api.assets.shortable is 'Can be sold short.';
comment on column api.assets.easy_to_borrow is 'Easy to borrow (hard-to-borrow names cannot be shorted here).';
comment on column api.assets.fractionable is 'Fractional and notional orders are allowed.';
comment on column api.assets.maintenance_margin_requirement is 'Maintenance margin of a long position, percent of market value.';
comment on column api.assets.attributes is 'Alpaca asset attributes: has_options when listed options exist.';
