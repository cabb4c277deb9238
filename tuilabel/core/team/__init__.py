"""Who labels what when several workers share a job: settings and leases (one host: SQLite)."""
