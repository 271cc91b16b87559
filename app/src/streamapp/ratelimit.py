"""A per-client request budget in the process: token buckets, bounded in memory.

For requests that are cheap to send and costly to answer (catalog searches). Per process, so
a host with N API processes allows up to N times the rate; the point is to keep one client
from monopolising the database, not exact accounting. The client is the address the API sees:
nginx's view of it, forwarded (X-Forwarded-For from 127.0.0.1 is trusted), which is the
viewer's own once nginx trusts the load balancer's X-Forwarded-For (nginx_real_ip_from).
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict


class Buckets:
    def __init__(self, per_minute: int, max_clients: int = 10_000) -> None:
        self.capacity = float(per_minute)  # a minute's worth may come at once
        self.refill = per_minute / 60.0  # tokens per second
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, client: str) -> int:
        """0 when ``client`` may go ahead (one token spent), else whole seconds to wait."""
        now = time.monotonic()
        with self._lock:
            tokens, then = self._buckets.pop(client, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - then) * self.refill)
            if tokens >= 1:
                tokens -= 1
                wait = 0
            else:
                wait = max(1, math.ceil((1 - tokens) / self.refill))
            self._buckets[client] = (tokens, now)  # most recently seen last
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)  # forget the longest-idle client
        return wait
