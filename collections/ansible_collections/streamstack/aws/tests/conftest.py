"""The repository's shared session fixtures (tests/conftest.py) for the collection's tests:
the emulator (one per pytest process: a second fixture instance finds the first's server in
the same state dir and reuses it), boto3 clients on it, the playbook runner, and the
session's own payload folder for streamstack.aws.warm_controller."""

from tests.conftest import aws, emulator, payload_cache, playbook

__all__ = ["aws", "emulator", "payload_cache", "playbook"]
