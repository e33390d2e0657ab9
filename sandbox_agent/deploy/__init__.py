"""Putting the daemon into sandboxes: the portable artifact and the steps every recipe shares."""
