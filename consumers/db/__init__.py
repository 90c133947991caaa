"""PostgreSQL access: schema migration, connection pools and the queries of each stage."""
