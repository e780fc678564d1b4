"""Comparing results: statistics (bootstrap, power law), two runs compared, study specs and tables."""
