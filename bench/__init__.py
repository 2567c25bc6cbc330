"""`make bench`: what MBT's gateway, order submission, fill engine, jobs and market data cost, each measured on
a durable stack (make run's cluster settings) and an unsafe one (fsync off) in the same run.

See bench/__main__.py for what is measured and why; the report goes to bench/report.md.
"""
