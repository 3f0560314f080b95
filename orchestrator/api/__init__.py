"""The JSON API under /api/v1: authenticated, scoped by branch or district, OpenAPI documented."""
