"""Where answers live durably: the journal, the checkpoint, locks and atomic writes."""
