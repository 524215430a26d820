"""Tracks and tickets: a vague intent becomes a DAG of tickets, each one engine run.

models (state as data) · dag (graph rules) · planner (intent or track plan -> Track) ·
store (tracks under the git common dir) · run (the scheduler, landing one commit per
ticket) · clutch (--step reviews) · hints (tier-4 error compression) · config
(``[tool.astm.track]``). See docs/tracks.md.
"""
