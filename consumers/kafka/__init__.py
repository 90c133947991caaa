"""Kafka client configuration, broker queries and topic definitions."""
