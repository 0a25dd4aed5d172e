"""llama.cpp's OpenAI-compatible server (xllamacpp) on a free local port, for tests.

Example:
    >>> with llama_server() as url:  # doctest: +SKIP
    ...     OpenAIBackend(url, "kedrec").answer(messages, schema, 200)
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path


def free_port() -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def llama_server(
    *, lora: Path | None = None, parallel: int = 2, timeout_s: float = 120.0
) -> Iterator[str]:
    """Start ``kedrec serve-model``; yield its API root URL."""
    port = free_port()
    command = [str(Path(sys.executable).with_name("kedrec")), "serve-model", "--port", str(port)]
    command += ["--parallel", str(parallel), "--threads", "2"]
    if lora is not None:
        command += ["--lora", str(lora)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if process.poll() is not None:
                output = process.stdout.read().decode(errors="replace") if process.stdout else ""
                raise RuntimeError(f"the model server exited: {output[-2000:]}")
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the model server did not start in time")
            time.sleep(0.5)
        yield f"{url}/v1"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
