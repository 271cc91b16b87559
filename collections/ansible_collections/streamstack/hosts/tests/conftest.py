"""The repository's shared session fixtures (tests/conftest.py) the collection's tests use: the
session's own payload folder for streamstack.aws.warm_controller."""

from tests.conftest import payload_cache

__all__ = ["payload_cache"]
