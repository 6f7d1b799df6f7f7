"""Data in and out: CSV imports of leads (mapping, dry run, background run, undo) and CSV
exports of the leads table as filtered."""
