"""What people read: `tables` (markdown and terminal text) and `plots` (PNG pictures and thumbnails)."""
