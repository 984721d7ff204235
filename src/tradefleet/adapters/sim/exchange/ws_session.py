"""One client session on the simulator's WebSocket feed: its registrations, answered as KIS
answers them (acks and their codes: reference/kis-api.md §5), and what it has been sent.

Rules, as KIS: registrations carry an approval key from ``/oauth2/Approval`` (unknown:
OPSP0011); one session per appkey (a second one gets OPSP8996); at most ``max_registrations``
(41 at KIS, the 42nd refused OPSP0008); notices (H0STCNI0 real / H0STCNI9 paper) are
registered with the HTS id and come encrypted with the key/iv of their ack; a wrong HTS id is
accepted and then gets no notices, as at KIS."""

from __future__ import annotations

import json
import secrets
import string
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tradefleet.adapters.kis.ws_cipher import NoticeCipher
from tradefleet.adapters.kis.ws_frames import (
    ALREADY_SUBSCRIBED,
    APPKEY_IN_USE,
    INTERNAL_ERROR,
    INVALID_APPROVAL,
    MAX_SUBSCRIBE_OVER,
    NOT_SUBSCRIBED,
    SUBSCRIBED,
    UNSUBSCRIBED,
)
from tradefleet.adapters.kis.ws_notices import NOTICE_TRS
from tradefleet.adapters.kis.ws_ticks import TICK_TR

OVERSEAS_NOTICE_TRS = frozenset({"H0GSCNI0", "H0GSCNI9"})   # accepted, never sent here
_ALNUM = string.ascii_lowercase + string.digits


def ack(tr_id: str, tr_key: str, code: str, message: str, *, rt_cd: str = "0",
        cipher_text: tuple[str, str] | None = None) -> str:
    body: dict[str, Any] = {"rt_cd": rt_cd, "msg_cd": code, "msg1": message}
    if cipher_text is not None:
        body["output"] = {"iv": cipher_text[1], "key": cipher_text[0]}
    return json.dumps({"header": {"tr_id": tr_id, "tr_key": tr_key,
                                  "encrypt": "Y" if cipher_text else "N"}, "body": body})


@dataclass(eq=False)
class FeedSession:
    ws: web.WebSocketResponse
    request: web.Request
    notice_tr: str
    appkey: str | None = None
    regs: set[tuple[str, str]] = field(default_factory=set)     # (tr_id, tr_key)
    last_volume: dict[str, int] = field(default_factory=dict)
    notice_index: int = 0             # executions[:notice_index] are behind this session
    order_index: int = 0              # REST orders[:order_index] were acknowledged (or older)
    held: list[str] = field(default_factory=list)           # reordered notices, due later
    pongs: int = 0
    key: str = field(default_factory=lambda: "".join(secrets.choice(_ALNUM)
                                                     for _ in range(32)))
    iv: str = field(default_factory=lambda: secrets.token_hex(8))

    @property
    def ticks(self) -> set[str]:
        """Symbols registered for H0STCNT0."""
        return {k for t, k in self.regs if t == TICK_TR}

    @property
    def notices(self) -> set[str]:
        """HTS ids registered for this mode's notices."""
        return {k for t, k in self.regs if t == self.notice_tr}

    @property
    def cipher(self) -> NoticeCipher:
        return NoticeCipher(self.key, self.iv)

    def register(self, tr_id: str, tr_key: str, subscribe: bool, cap: int
                 ) -> tuple[str, str, bool]:
        """(code, message, ok) for one (un)registration of this session."""
        reg = (tr_id, tr_key)
        if not subscribe:
            if reg not in self.regs:
                return NOT_SUBSCRIBED, "UNSUBSCRIBE ERROR(not found!)", True
            self.regs.discard(reg)
            return UNSUBSCRIBED, "UNSUBSCRIBE SUCCESS", True
        if reg in self.regs:
            return ALREADY_SUBSCRIBED, "ALREADY IN SUBSCRIBE", True
        if len(self.regs) >= cap:
            return MAX_SUBSCRIBE_OVER, "MAX SUBSCRIBE OVER", False
        self.regs.add(reg)
        return SUBSCRIBED, "SUBSCRIBE SUCCESS", True


def served(tr_id: str, mode: str) -> bool:
    return tr_id in (TICK_TR, NOTICE_TRS[mode]) or tr_id in OVERSEAS_NOTICE_TRS


def refusal(tr_id: str, tr_key: str, code: str, message: str) -> str:
    return ack(tr_id, tr_key, code, message, rt_cd="1")


__all__ = ["APPKEY_IN_USE", "INTERNAL_ERROR", "INVALID_APPROVAL", "FeedSession", "ack",
           "refusal", "served"]
