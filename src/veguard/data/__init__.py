"""Corpus: source readers, normalisation, deduplication, grouped splits, the build."""
