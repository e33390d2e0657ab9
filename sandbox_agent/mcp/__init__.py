"""The MCP facade: coding agents as MCP tools for another agent (stdio, or mounted at /mcp)."""
