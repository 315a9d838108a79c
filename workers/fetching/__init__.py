"""HTTP for feeds and pages (limits, redirects, typed errors), article fetching, raw page store."""
