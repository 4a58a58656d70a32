"""The REST API's bodies as clients see them, one module per area of `api.md`."""
