"""Polling a feed: conditional GET, typed entries, canonical URLs, new-entry selection."""
