"""Progress requests (进展调度): opening, reports (报送), drafts, evidence, extensions, review."""
