"""`sandbox-agent acp`: an ACP agent on stdio in front of the daemon, so any ACP client (Zed, acpx, the official
SDKs) drives any agent we drive, with our journal, resume and HITL behind it."""
