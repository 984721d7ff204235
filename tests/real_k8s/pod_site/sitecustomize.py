"""Loaded first by every Python process of a pod the test node agent runs
(tests/real_k8s/node_agent.py): a pod has its own IP, a loopback alias of its own, so a
listen on the wildcard address is narrowed to that IP, as a pod's own network namespace
would keep it apart from the other pods' identical ports."""

import os
import socket

_POD_IP = os.environ.get("TRADEFLEET_TEST_POD_IP", "")
_WILDCARDS = ("", "0.0.0.0", "::", "::0")

if _POD_IP:
    _bind = socket.socket.bind

    def _pod_bind(self, address):  # noqa: ANN001, ANN202
        if isinstance(address, tuple) and address and address[0] in _WILDCARDS:
            if self.family == socket.AF_INET6:    # pods speak IPv4 here: a v6 wildcard
                address = ("::1", 0, *address[2:])  # listen is kept off everyone's ports
            else:
                address = (_POD_IP, *address[1:])
        return _bind(self, address)

    socket.socket.bind = _pod_bind
