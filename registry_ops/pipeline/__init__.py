"""The use cases, which never print: plan, seal, apply, lease, unlock, audit."""
