"""Synthetic N-best lists: speech synthesis and real first-pass recognisers."""
