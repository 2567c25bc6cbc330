-- 0020: the quote trigger and the engine find the trailing stops a batch can move or trigger on their
-- mark rows (mbt.trailing_marks_in_reach, since 0018/0019), no longer every untriggered trailing stop of a
-- symbol on mbt.orders: the partial index that served that lookup has no reader left.
drop index mbt.orders_resting_trailing;
