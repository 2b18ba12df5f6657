"""Security building blocks shared by both apps: rate limiting and server-side sessions."""
