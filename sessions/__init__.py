"""The sessions service: sign-up, log-in, refresh, log-out and erasure at /api/sessions/*."""
