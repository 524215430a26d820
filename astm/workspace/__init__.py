"""Git access: repository views, node sandboxes, landing, run records and gc.

Nothing outside this package imports pygit2 or runs git.
"""
