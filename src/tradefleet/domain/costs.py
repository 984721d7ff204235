"""Trading costs: the account's broker commission on both sides, and the sell-side taxes of
the symbol's market.

Sell-side taxes on KRX, for sells from 2026-01-01 (``TAX_RATES_APPLY_FROM``):

=========  ============================  =========================  =====
market     securities transaction tax    rural special tax          total
=========  ============================  =========================  =====
KOSPI      0.05 %                        0.15 %                     0.20 %
KOSDAQ     0.20 %                        none                       0.20 %
KONEX      0.10 %                        none                       0.10 %
ETF, ETN   none (exempt)                 none                       0
=========  ============================  =========================  =====

What this relies on: the 2025 tax-law revision that put the transaction tax back to its 2023
level from 2026-01-01 (KOSPI 0 % -> 0.05 % plus the unchanged 0.15 % 농어촌특별세; KOSDAQ
and K-OTC 0.15 % -> 0.20 %; KONEX unchanged 0.10 %), as summarised in
/work/shared/reference/kis-api.md (citing magazine.hankyung.com/business/article/
202512016549b and funbox.co.kr) and in public explainers (studygov.kr/blog/
0337-2026-stock-transaction-tax, alphaonair.com/securities-transaction-tax-rate-2026); the
rural special tax is charged on KOSPI sells only. ETFs and ETNs pay no transaction tax on
sale (kodex.com FAQ, "ETF 일반/과세"). Rates are a table here, not settings: they are law,
the same for every account, and a per-worker override would only let workers disagree.

Rounding: each tax is truncated to the won on its own (a KOSPI sell pays floor(0.05 %) +
floor(0.15 %), which can be a won less than floor(0.20 %)), and commission is truncated below
one won, all computed exactly in Decimal. The commission rate is the account's own (it
depends on the channel and promotion), so it comes from settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_FLOOR, Decimal
from types import MappingProxyType

from tradefleet.domain.markets import Market

TAX_RATES_APPLY_FROM = date(2026, 1, 1)


def _floor_won(amount: int, rate: Decimal) -> int:
    if amount < 0:
        raise ValueError(f"amount must be >= 0, got {amount}")
    return int((Decimal(amount) * rate).to_integral_value(rounding=ROUND_FLOOR))


def _check_rate(name: str, value: object) -> None:
    if not isinstance(value, Decimal) or not Decimal(0) <= value < Decimal(1):
        raise ValueError(f"{name} must be a Decimal in [0, 1), got {value!r}")


@dataclass(frozen=True, slots=True)
class SellTaxRates:
    transaction: Decimal            # 증권거래세
    rural_special: Decimal          # 농어촌특별세

    def __post_init__(self) -> None:
        _check_rate("transaction", self.transaction)
        _check_rate("rural_special", self.rural_special)


KRX_SELL_TAX_RATES: Mapping[Market, SellTaxRates] = MappingProxyType({
    Market.KOSPI: SellTaxRates(Decimal("0.0005"), Decimal("0.0015")),
    Market.KOSDAQ: SellTaxRates(Decimal("0.0020"), Decimal("0")),
    Market.KONEX: SellTaxRates(Decimal("0.0010"), Decimal("0")),
    Market.ETF: SellTaxRates(Decimal("0"), Decimal("0")),
    Market.ETN: SellTaxRates(Decimal("0"), Decimal("0")),
})


@dataclass(frozen=True, slots=True)
class SellTaxes:
    transaction: int
    rural_special: int
    market: Market | None            # whose rates were charged (None: market unknown)

    @property
    def total(self) -> int:
        return self.transaction + self.rural_special


@dataclass(frozen=True, slots=True)
class CostModel:
    buy_commission_rate: Decimal
    sell_commission_rate: Decimal
    # keyword-only: the old third positional argument (one flat sell tax rate) is refused
    tax_rates: Mapping[Market, SellTaxRates] = field(
        default_factory=lambda: KRX_SELL_TAX_RATES, hash=False, kw_only=True)

    def __post_init__(self) -> None:
        _check_rate("buy_commission_rate", self.buy_commission_rate)
        _check_rate("sell_commission_rate", self.sell_commission_rate)
        if not isinstance(self.tax_rates, Mapping):
            raise ValueError(f"tax_rates must map each Market to SellTaxRates, got "
                             f"{self.tax_rates!r}")
        missing = [m.value for m in Market if m not in self.tax_rates]
        if missing:
            raise ValueError(f"tax_rates: no rates for {', '.join(missing)}")

    def buy_fee(self, amount: int) -> int:
        return _floor_won(amount, self.buy_commission_rate)

    def sell_fee(self, amount: int) -> int:
        return _floor_won(amount, self.sell_commission_rate)

    def sell_taxes(self, amount: int, market: Market | None) -> SellTaxes:
        """The taxes on a sell of ``amount`` won. ``market=None`` (not known) charges the
        most any market would on this amount: a realized PnL is never overstated, and the
        daily loss limit is reached no later than it truly is."""
        if market is None:
            worst = max((self.sell_taxes(amount, m) for m in Market), key=lambda t: t.total)
            return SellTaxes(worst.transaction, worst.rural_special, None)
        rates = self.tax_rates[Market(market)]
        return SellTaxes(_floor_won(amount, rates.transaction),
                         _floor_won(amount, rates.rural_special), Market(market))

    def sell_tax(self, amount: int, market: Market | None) -> int:
        return self.sell_taxes(amount, market).total


# 0.015% commission each way: a typical online rate, and what the KIS backtester models.
DEFAULT_COSTS = CostModel(buy_commission_rate=Decimal("0.00015"),
                          sell_commission_rate=Decimal("0.00015"))
