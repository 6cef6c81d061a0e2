"""Hashing: BLAKE3 content hashes of step trees, args and dependencies (with a stat cache)."""
