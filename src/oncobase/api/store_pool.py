"""A small pool of clinical-store connections shared by the web service's threads."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from oncobase.store import Backend, connect


class StorePool:
    """Up to ``size`` connections to the clinical store, opened on first use."""

    def __init__(self, url: str, *, size: int = 4) -> None:
        self.url = url
        self.size = size
        self._idle: queue.LifoQueue[Backend] = queue.LifoQueue()
        self._opened = 0
        self._lock = threading.Lock()

    @contextmanager
    def backend(self) -> Iterator[Backend]:
        """Borrow a connection (StoreError if the store cannot be opened)."""
        item = self._take()
        try:
            yield item
        except BaseException:
            item.close()
            with self._lock:
                self._opened -= 1
            raise
        else:
            self._idle.put(item)

    def _take(self) -> Backend:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            if self._opened < self.size:
                self._opened += 1
                try:
                    return connect(self.url)
                except BaseException:
                    self._opened -= 1
                    raise
        return self._idle.get(timeout=30)

    def close(self) -> None:
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                break
        with self._lock:
            self._opened = 0
