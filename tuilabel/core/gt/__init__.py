"""Ground Truth itself: job spec and name rules, task types, output lines, export."""
