"""`tradefleet exchange --host`: in a pod the simulator must listen beyond loopback (the
chart runs it with --host 0.0.0.0); by default it stays on 127.0.0.1."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from tradefleet.local_fleet.processes import free_port


def _health(address: str, port: int) -> int | None:
    try:
        with urllib.request.urlopen(f"http://{address}:{port}/_admin/health", timeout=2) as r:
            return r.status
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None


def _serving(*extra: str):  # noqa: ANN202 - (process, port)
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "tradefleet.cli", "exchange", "--port",
                             str(port), "--symbols", "3", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while _health("127.0.0.1", port) != 200:
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"exchange did not come up: {proc.communicate()[1]}")
        time.sleep(0.2)
    return proc, port


@pytest.mark.parametrize(("extra", "reachable"), [(("--host", "0.0.0.0"), True), ((), False)])
def test_exchange_listens_where_told(extra: tuple[str, ...], reachable: bool):
    proc, port = _serving(*extra)
    try:
        # 127.0.0.2 is loopback too, but a socket bound to 127.0.0.1 does not accept it
        assert (_health("127.0.0.2", port) == 200) is reachable
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_exchange_names_a_host_it_cannot_listen_on():
    done = subprocess.run([sys.executable, "-m", "tradefleet.cli", "exchange", "--host",
                           "no-such-host.invalid", "--port", "0", "--symbols", "3"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2
    assert "--host" in done.stderr and "no-such-host.invalid" in done.stderr
