"""Stage labels: Gmail labels read into stages, and stages written back as labels."""
