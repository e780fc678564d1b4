"""The log-linear combination of first-pass evidence and the LM score, its tuning and cross-fitting."""
