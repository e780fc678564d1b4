"""The lorascope engine: N-best data, metrics, rescorers, training strategies, perturbations.

Nothing here prints, touches the database or imports Textual; functions take and return plain values.
"""
