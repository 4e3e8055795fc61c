"""Git-facing features: history, propose, init and its templates."""
