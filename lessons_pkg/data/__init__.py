"""Data sets the course uses. All work offline: bundled, generated, or checksummed downloads."""
