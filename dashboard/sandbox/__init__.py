"""An offline Khalti merchant API, for the dashboard's demo mode and for tests."""

from dashboard.sandbox.server import SandboxServer

__all__ = ["SandboxServer"]
