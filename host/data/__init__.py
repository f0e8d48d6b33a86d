"""Sample data shipped with the package (see README.md here)."""
