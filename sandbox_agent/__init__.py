"""Sandbox Agent: one JSON-RPC API and one event schema for every coding agent."""

__version__ = "0.1.0"
