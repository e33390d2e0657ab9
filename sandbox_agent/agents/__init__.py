"""Agent adapters: the interface, shared process machinery, and one adapter per agent."""
