"""What the command line prints: tables, JSON, CSV, and article reports."""
