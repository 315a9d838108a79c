"""The process stage: decoding, extraction and enrichment of fetched pages."""
