"""The Secret half of a TradingWorker's preflight, read again only when one of its Secrets
changed: the outcome (problems, which name fields, never values) is kept per worker with the
resourceVersions of the Secrets it read, and a pass whose Secrets have the same versions
reuses it. Without this every resync GETs and decrypts one to four Secrets per worker.

Why a watch of Secrets (kopf's index, operator/kopf_views.py) and not a timed cache: only a
watch notices a changed Secret at the next pass without asking the API each time, and the
operator needs nothing more than ``get`` already gives it (``get`` on secrets without
resourceNames reads every Secret of the namespace; ``list``/``watch`` add no reach). The index
keeps a resourceVersion per Secret, never data; a Secret's values are read with a GET only when
its version changed, checked and dropped (preflight.py), as before. A Secret the index does not
hold is still read (a watch forbidden by an older Role must not fail the workers), and its
outcome kept until the index sees that Secret change."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tradefleet.operator.config import OperatorConfig
from tradefleet.operator.plan import Problem
from tradefleet.operator.preflight import SecretReader, check_secrets, secrets_read
from tradefleet.operator.resources import TradingWorkerSpec

UNKNOWN = object()      # the index is not there (yet): nothing is kept
# (namespace, name) -> the Secret's resourceVersion, None when absent, UNKNOWN without an index
SecretVersions = Callable[[str, str], object]


@dataclass(frozen=True)
class _Checked:
    stamp: tuple
    problems: tuple[Problem, ...]


class SecretChecks:
    def __init__(self, read_secret: SecretReader, config: OperatorConfig,
                 versions: SecretVersions | None = None) -> None:
        self._read = read_secret
        self._config = config
        self._versions = versions
        self._kept: dict[tuple[str, str], _Checked] = {}

    async def problems(self, worker: tuple[str, str], spec: TradingWorkerSpec,
                       namespace: str) -> list[Problem]:
        stamp = self._stamp(spec, namespace)
        kept = self._kept.get(worker)
        if stamp is not None and kept is not None and kept.stamp == stamp:
            return list(kept.problems)
        found = await check_secrets(spec, namespace, self._read, self._config)
        if stamp is None:
            self._kept.pop(worker, None)
        else:
            self._kept[worker] = _Checked(stamp, tuple(found))
        return found

    def forget(self, worker: tuple[str, str]) -> None:
        self._kept.pop(worker, None)

    def _stamp(self, spec: TradingWorkerSpec, namespace: str) -> tuple | None:
        """What the outcome depends on (the operator's own settings are fixed): the mode, the
        Secrets named and each one's version."""
        if self._versions is None:
            return None
        names = secrets_read(spec, self._config)
        versions = tuple(self._versions(namespace, n) for n in names)
        if any(v is UNKNOWN for v in versions):
            return None
        return namespace, spec.mode, names, versions
