"""Small helpers raven 6.10 users import: stack iteration, versioning, levels."""
