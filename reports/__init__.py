"""Reports for people who look rather than read: the daily fill-quality report (reports.fill_quality),
computed by the analytics views, plotted with matplotlib."""
