"""The bundled sample N-best sets and demo adapter, shipped as package data (see README.md in this folder)."""
