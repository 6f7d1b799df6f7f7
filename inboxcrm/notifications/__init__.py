"""In-app notifications for members: what happened to which lead, read or not."""
