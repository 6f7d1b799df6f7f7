"""Leads from synced mail: who on a thread is (or becomes) a lead, the thread's links and
primary lead, and one `message_in`/`message_out` activity per lead per message.

It reads stored `Message` rows, a batch of threads at a time, with every message of those
threads (so a reply synced after the mail it answers still counts), and does a fixed
handful of set-based queries per batch whatever its size. Running it again changes
nothing: links, leads and activities are looked up before they are added. So the same
code serves the sync (the messages a batch just stored), a backfill when the lead policy
changes, and matching a lead added by hand to the mail already stored.

Its modules, in the order a batch goes through them:
- `batch`: the entry point (`capture_threads`, `capture_messages`) and its `Captured`.
- `insiders`: who is inside the workspace's team, so never a lead.
- `messages`: the stored messages of the threads, as capture reads them.
- `policy`: who becomes a lead, and the admins' change of those settings.
- `new_leads`: creating the leads the policy picks, and their companies.
- `links`: the leads known by address, their links to threads, each thread's primary lead.
- `activities`: an activity per lead per message, and the contact times they move.
- `backfill`: capture over mail already stored (a lead added by hand, changed rules).
- `bulk`: what the set-based statements share.
"""
