"""The collection's unit tests import its plugins as ``ansible_collections.streamstack.aws``,
as ansible-test does: the repository's collections folder goes first on the path (amazon.aws
and the other installed collections stay importable: ``ansible_collections`` is a namespace)."""

import sys
from pathlib import Path

COLLECTIONS = Path(__file__).resolve().parents[5]
if str(COLLECTIONS) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS))
