"""Mail-merge templates now; campaigns (template x segment x sender) when the outbox lands."""
