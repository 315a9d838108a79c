"""Process-level runtime: the embedded Redis server and the supervisor of worker processes."""
