"""Gmail API v1 handlers, one module per resource; `gmail_api` routes to them."""
