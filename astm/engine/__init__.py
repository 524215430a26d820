"""The engine: one run = a RunContext + the agents, with the run's lifecycle around them.

``apply`` (``astm apply``) and ``new`` (``astm new``) are its entry points; it returns a
result or raises an ``AstmError``, and never prints.
"""
