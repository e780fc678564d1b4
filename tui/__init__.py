"""The Textual inspector: app.py composes the screens (screens/), built from widgets (widgets/)."""
