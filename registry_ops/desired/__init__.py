"""Reading the repository: which files are read, safe YAML with line marks, schemas, loading
into the core model, messages.
"""
