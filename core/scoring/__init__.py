"""Rescorers and what they run on: backbones, the rescorer, the packed encoder, adapter folders."""
