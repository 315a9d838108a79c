"""Remembering which articles Newswire has already delivered (and, later, near-duplicates)."""
