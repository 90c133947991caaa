"""Local stand-ins for the services a backfill needs: a Kafka-protocol broker
(tansu) and PostgreSQL, started in a temporary folder for the demo and tests."""
