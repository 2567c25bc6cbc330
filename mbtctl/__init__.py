"""mbtctl: set up, run and migrate an MBT stack (cluster, PostgREST, sessions service, nginx gateway)."""
