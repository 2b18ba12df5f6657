"""The knowledge tests sign staff and clients in the way the settings screens' tests do."""

from tests.integration.settings.conftest import client_as, staff_as

__all__ = ["client_as", "staff_as"]
