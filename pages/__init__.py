"""Dashboard pages: one file per screen, layout and widgets only."""
