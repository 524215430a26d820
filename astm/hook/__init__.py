"""``astm hook``: gate commits node by node (check mode), repair on request, install the hook.

Check mode (``check.check_staged``) reads the staged content git means, runs fast checks and
keeps only the findings inside nodes the commit changed; it needs no model and no network
and never writes. Repair mode (``repair.repair``) hands each failing node to the engine and
writes results to the working tree only. ``install`` manages the git hook script.

Modules are imported by the ``astm hook`` command as needed, so the check path stays light:
no model client, no pydantic models of the engine, no rich unless on a terminal.
"""
