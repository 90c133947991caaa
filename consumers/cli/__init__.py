"""The `seer-backfill` command line."""
