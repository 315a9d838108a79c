"""Feed sources: reading feeds.yaml and OPML, and the registry in Redis with its due-time index."""
