"""Privacy erasure: jobs, tombstones, the store rewrites and the worker (docs/privacy.md)."""
