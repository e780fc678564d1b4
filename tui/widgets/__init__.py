"""Widgets of the lorascope app."""
