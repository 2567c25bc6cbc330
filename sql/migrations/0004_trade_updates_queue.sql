-- 0004 trade_updates queue.

-- pgmq queues (pgmq is installed before the migrations, from the pgmq package's SQL).
-- trade_updates: every order event, in Alpaca's trade_updates payload, sent in the transaction
-- that made it; read by jobs/trade_updates.py (and later served to users as a stream).
select pgmq.create('trade_updates');
