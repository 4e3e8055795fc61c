"""Read-only reports on the live registry: status, compare, export."""
