"""cloudkit's conformance kit: provider-neutral test suites every provider must pass.

Run it against any configured profile::

    pytest --pyargs cloudkit.testing --cloudkit-profile=prod

or reuse the suites in a provider's own tests by subclassing them::

    from cloudkit.testing.storage import StorageConformance

    class TestAcmeStorage(StorageConformance):
        pass                     # with a `cloudkit_cloud` fixture that connects to acme

An operation the provider's capabilities exclude is skipped with the reason; everything else
must behave exactly as the suite expects.
"""

from cloudkit.testing.helpers import requires, unique_name

__all__ = ["requires", "unique_name"]
