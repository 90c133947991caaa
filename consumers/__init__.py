"""seer-backfill: a Kafka consumer that backfills Seer similarity records."""
