"""The offline demo: bundled feeds and pages from seeds/demo/, served on loopback."""
