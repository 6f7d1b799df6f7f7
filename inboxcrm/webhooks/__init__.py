"""Webhooks: endpoints admins register, deliveries of the workspace's events to them
(signed, retried, in order per lead), each attempt logged."""
