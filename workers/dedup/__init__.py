"""Remembering what Newswire delivered: the seen-set with GUIDs (seen.py), and
near-duplicates across feeds (minhash.py for signatures, neardup.py for their index)."""
