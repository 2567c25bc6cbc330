-- One quote's displayed size, shared by one account's orders on its side (shared/DESIGN.md, "The
-- engine's rules"): an ordered aggregate that the fill engine runs as a window over the (order, quote)
-- pairs that may fill, per account, symbol and side, in quote-time order and, on one quote, best price
-- first, then submission time. Each pair takes what its allocation key (its order, or its group's exits,
-- which draw on one quantity) has left, at most what the pairs before it left of the quote's size; the
-- rest waits for later quotes. A running fold, as mbt.position_after is: the state carries the quote being
-- shared, how much of it is used, and what each key took so far (a handful of keys: the orders of one
-- account on one symbol and side that one batch reaches).
create or replace function mbt.share_displayed_step(
    p_state mbt.displayed_share, p_quote_id bigint, p_allocation_key uuid, p_remaining numeric, p_displayed numeric
)
returns mbt.displayed_share
language plpgsql
immutable
parallel safe
set search_path = ''
as $$
declare
    v_at integer := array_position(p_state.allocation_keys, p_allocation_key);
    v_took numeric;
begin
    if p_state.quote_id is distinct from p_quote_id then
        p_state.quote_id := p_quote_id;
        p_state.used := 0;
    end if;
    v_took := greatest(least(p_remaining - coalesce(p_state.allocated[v_at], 0), p_displayed - p_state.used), 0);
    p_state.used := p_state.used + v_took;
    p_state.took := v_took;
    if v_at is null then
        p_state.allocation_keys := p_state.allocation_keys || p_allocation_key;
        p_state.allocated := p_state.allocated || v_took;
    else
        p_state.allocated[v_at] := p_state.allocated[v_at] + v_took;
    end if;
    return p_state;
end;
$$;
comment on function mbt.share_displayed_step(mbt.displayed_share, bigint, uuid, numeric, numeric) is
$$One step of mbt.share_displayed: the pair (p_allocation_key, p_quote_id) takes what the key has left of p_remaining,
at most what is left of the quote's p_displayed size.$$;

create or replace aggregate mbt.share_displayed(bigint, uuid, numeric, numeric) (  -- noqa: LT01
    sfunc = mbt.share_displayed_step,
    stype = mbt.displayed_share,
    initcond = '(,0,0,{},{})'
);
comment on aggregate mbt.share_displayed(bigint, uuid, numeric, numeric) is  -- noqa: LT01
$$Ordered aggregate over (quote id, allocation key, remaining quantity, displayed size), in quote order and priority:
.took is what the last pair takes of its quote's displayed size, shared with the pairs before it on that quote.$$;
