"""The team: who is in a workspace, their roles and mailboxes, invitations, joining by
domain, and removing a member (whose leads someone else takes). Above `leads`, because a
removed member's leads are handed over."""
