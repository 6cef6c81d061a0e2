"""Planning: which steps are fresh or stale given the tags that exist, and why."""
