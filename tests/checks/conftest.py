from tests.keyspace.conftest import server  # noqa: F401  (the local server fixture)
