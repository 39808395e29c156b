"""One router per capability: ops (health, metrics), moderation (scoring), queue (reviewers'
API), admin (export, keys) and web (the reviewer page)."""
