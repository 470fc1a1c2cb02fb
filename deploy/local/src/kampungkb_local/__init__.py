"""The embedded local stack: real PostgreSQL and Redis servers kept under one folder, and `make run`."""
