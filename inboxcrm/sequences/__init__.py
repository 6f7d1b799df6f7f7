"""Drip sequences: ordered steps (emails through the outbox, waits, tasks for the owner)
that enrolled leads walk through on the clock, and leave the moment they answer; the
re-engagement of leads that turned cold is one such sequence, on by default."""
