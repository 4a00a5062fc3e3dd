"""A local HTTP server for the download tests (never the internet)."""

from __future__ import annotations

import http.server
import threading


class LocalServer:
    """An HTTP server on a free local port, serving in a thread with ``handler`` (a request
    handler class or factory); :attr:`url` is its ``/data`` folder."""

    def __init__(self, handler) -> None:
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/data"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
