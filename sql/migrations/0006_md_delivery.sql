-- 0006 market-data delivery and retention: bars found by time alone.

-- Retention deletes the bars of whole days before a cutoff, across all symbols; bars arrive in time
-- order, so a BRIN index on bar_time finds them for a few pages of index.
create index bars_1m_bar_time_brin on md.bars_1m using brin (bar_time);
