"""Pure data and logic: the desired and observed models, the plan and its changes, the planner,
provenance records. Standard library only.
"""
