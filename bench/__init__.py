"""`make bench`: what MBT's gateway costs, measured against PostgREST on the same machine in the same run.

See bench/__main__.py for what is measured and why; the report goes to bench/report.md.
"""
