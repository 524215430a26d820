"""Spec-driven builds: ``@astm.magic`` / ``@astm.test`` stubs become generated code.

``runtime`` is what user code imports at run time (small, no dependencies); the rest is
the build: ``discover`` (specs read with ``ast``, never executed), ``digest`` and
``header`` (staleness), ``deps`` (the module graph), ``generate`` and ``build`` (through
the engine's pieces, see ``engine_bridge``), ``test`` (pytest on generated tests).
See docs/specs.md.
"""
