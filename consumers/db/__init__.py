"""PostgreSQL access: schema migration, connection pools and each stage's queries."""
