"""The N-best data model and what is computed on it: formats, text normalisation, word alignment, metrics."""
