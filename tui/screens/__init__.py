"""Screens of the lorascope app."""
