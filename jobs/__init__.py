"""Scheduled jobs and queue workers. They move data and keep time; the rules are SQL functions."""
