"""Agents: routing decisions, answer normalisation and prompts (files under prompts/)."""
