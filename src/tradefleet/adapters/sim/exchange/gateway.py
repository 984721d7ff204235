"""The gateway side of the simulator: tokens, per-appkey rate windows, counters (fault rules
live in the market's ``FaultPlan``, see ``faults.py`` and ``fault_admin.py``).

Token rules as KIS: asking again while a token is valid returns the same token; a NEW token
is issued only after expiry/revocation, and not within ``reissue_seconds`` of the last one
(HTTP 403 EGW00133)."""

from __future__ import annotations

import secrets
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime

from tradefleet.adapters.clock import SEOUL


@dataclass
class ExchangeConfig:
    mode: str = "real"                      # "real" | "paper": which TR ids are accepted
    rate_limit_per_second: int | None = None    # None = 20 real / 2 paper
    reissue_seconds: float = 60.0           # no NEW token within this of the last one
    same_token_seconds: float = 6 * 3600.0  # asking again within this returns the same token
    token_ttl_seconds: int = 86_400
    fills_page_size: int | None = None      # None = 100 real / 15 paper
    balance_page_size: int | None = None    # None = 50 real / 20 paper
    credentials: dict[str, str] | None = None   # appkey -> appsecret; None = accept any

    def __post_init__(self) -> None:
        if self.mode not in ("real", "paper"):
            raise ValueError(f"mode: must be 'real' or 'paper', got {self.mode!r}")
        paper = self.mode == "paper"
        self.rate_limit_per_second = self.rate_limit_per_second or (2 if paper else 20)
        self.fills_page_size = self.fills_page_size or (15 if paper else 100)
        self.balance_page_size = self.balance_page_size or (20 if paper else 50)


@dataclass
class _Token:
    value: str
    appkey: str
    expires_at: float                        # time.time()
    issued_at: float = field(default_factory=time.time)
    revoked: bool = False


@dataclass
class Gateway:
    config: ExchangeConfig
    _tokens: dict[str, _Token] = field(default_factory=dict)        # value -> token
    _current: dict[str, str] = field(default_factory=dict)          # appkey -> value
    _last_issue: dict[str, float] = field(default_factory=dict)     # appkey -> monotonic
    _windows: dict[str, deque[float]] = field(default_factory=dict)
    _mutex: threading.Lock = field(default_factory=threading.Lock)
    tokens_issued: Counter[str] = field(default_factory=Counter)
    token_requests: int = 0
    rate_limited: int = 0
    max_requests_per_second: int = 0
    orders_per_symbol: Counter[str] = field(default_factory=Counter)     # order-cash accepted
    modifies_per_symbol: Counter[str] = field(default_factory=Counter)   # 정정 accepted
    _per_second: Counter[int] = field(default_factory=Counter)

    # ---- tokens ------------------------------------------------------------------------
    def check_credentials(self, appkey: str, appsecret: str) -> str | None:
        """An error code, or None when the pair is acceptable."""
        if not appkey:
            return "EGW00103"
        known = self.config.credentials
        if known is not None:
            if appkey not in known:
                return "EGW00103"
            if known[appkey] != appsecret:
                return "EGW00105"
        elif not appsecret:
            return "EGW00105"
        return None

    def issue(self, appkey: str) -> tuple[_Token | None, bool]:
        """(token, throttled). The current token while valid and young; else a new one."""
        with self._mutex:
            self.token_requests += 1
            cur = self._tokens.get(self._current.get(appkey, ""))
            now = time.time()
            if cur and not cur.revoked and cur.expires_at > now \
                    and now - cur.issued_at < self.config.same_token_seconds:
                return cur, False
            last = self._last_issue.get(appkey)
            if last is not None and time.monotonic() - last < self.config.reissue_seconds:
                return None, True
            tok = _Token(secrets.token_urlsafe(32), appkey,
                         time.time() + self.config.token_ttl_seconds)
            self._tokens[tok.value] = tok
            self._current[appkey] = tok.value
            self._last_issue[appkey] = time.monotonic()
            self.tokens_issued[appkey] += 1
            return tok, False

    def token_status(self, value: str, appkey: str) -> str | None:
        """None = valid; else EGW00121 (unknown/other key) or EGW00123 (expired/revoked)."""
        tok = self._tokens.get(value)
        if tok is None or tok.appkey != appkey:
            return "EGW00121"
        if tok.revoked or tok.expires_at <= time.time():
            return "EGW00123"
        return None

    def expire_all(self) -> int:
        with self._mutex:
            for tok in self._tokens.values():
                tok.revoked = True
            return len(self._tokens)

    # ---- rate limit --------------------------------------------------------------------
    def admit(self, appkey: str) -> bool:
        """Sliding 1-s window per appkey. Refused requests do not count."""
        now = time.monotonic()
        with self._mutex:
            win = self._windows.setdefault(appkey, deque())
            while win and now - win[0] >= 1.0:
                win.popleft()
            if len(win) >= (self.config.rate_limit_per_second or 1):
                self.rate_limited += 1
                return False
            win.append(now)
            sec = int(time.time())
            self._per_second[sec] += 1
            self.max_requests_per_second = max(self.max_requests_per_second,
                                               self._per_second[sec])
            return True

    def counters(self) -> dict[str, object]:
        return {"tokens_issued": dict(self.tokens_issued), "token_requests": self.token_requests,
                "max_requests_per_second": self.max_requests_per_second,
                "rate_limited": self.rate_limited,
                "orders_per_symbol": dict(self.orders_per_symbol),
                "modifies_per_symbol": dict(self.modifies_per_symbol)}


def kst_string(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, SEOUL).strftime("%Y-%m-%d %H:%M:%S")


