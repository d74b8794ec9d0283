"""Vector and keyword search over stored chunks, on SQLite or PostgreSQL, fused by reciprocal rank."""
