"""inboxcrm."""
