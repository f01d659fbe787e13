"""Do the prices agree with the corporate actions? A check of the lake, pure (tables in, findings out).

For every bonus, split or consolidation whose ex-date has equity prices, the close on the ex-date
is compared with the previous session's close times the factor (the actions of one symbol and day
multiplied, each counted once across series). The action *contradicts* its factor when

    close(ex) / (close(before) x factor)  lies outside  [1 / (1 + tolerance), 1 + tolerance],

`[actions] tolerance` = 0.25 by default: NSE's price bands stop at 20%, so a real day's move stays
inside while a missing 1:1 bonus (a ratio of 2) or a split applied twice does not. A close-to-close
gap outside [1 / (1 + g), 1 + g], `[actions] unexplained_gap` g = 0.35, on a symbol with no known
action that day is an *unexplained gap*: a bonus or split the files did not list, or a bad price.
Each (symbol, series) traded on both sessions is looked at; an action whose symbol did not trade on
both is *not traded*.
"""
import math
from dataclasses import dataclass
from datetime import date

import pandas as pd
import pyarrow as pa

from .purpose import ADJUSTING

CONTRADICTS, UNEXPLAINED, OK, NOT_TRADED = "contradicts", "unexplained gap", "ok", "not traded"


@dataclass(frozen=True)
class Finding:
    day: date
    symbol: str
    series: str
    flag: str
    factor: float | None  # the day's actions multiplied; None for a gap with no action
    close_before: float | None
    close: float | None
    purposes: str = ""

    @property
    def ratio(self) -> float | None:
        """close / close_before: what the market did overnight."""
        if self.close is None or not self.close_before:
            return None
        return self.close / self.close_before

    def line(self) -> str:
        shown = f"{self.day.isoformat()}  {self.flag:<15} {self.symbol} {self.series}".rstrip()
        if self.ratio is not None:
            shown += f"  close {self.close_before:g} -> {self.close:g} (x{self.ratio:.4f})"
        if self.factor is not None:
            shown += f", factor {self.factor:.4f}"
        return shown + (f"  [{self.purposes}]" if self.purposes else "")

    def as_dict(self) -> dict:
        return {"day": self.day.isoformat(), "symbol": self.symbol, "series": self.series, "flag": self.flag,
                "factor": self.factor, "close_before": self.close_before, "close": self.close,
                "ratio": self.ratio, "purposes": self.purposes}


def day_events(listed: pa.Table, day: date) -> pd.DataFrame:
    """symbol -> (factor, purposes) of the adjusting actions with this ex-date, each counted once."""
    frame = listed.select(["symbol", "ex_date", "kind", "factor", "purpose"]).to_pandas()
    frame = frame[(frame["ex_date"] == day) & frame["kind"].isin(ADJUSTING) & frame["factor"].notna()]
    frame = frame.drop_duplicates(["symbol", "kind", "factor"])
    return frame.groupby("symbol").agg(factor=("factor", "prod"), purposes=("purpose", lambda p: "; ".join(sorted(set(p)))))


def _outside(ratio: float, tolerance: float) -> bool:
    return abs(math.log(ratio)) > math.log1p(tolerance)


def check_day(day: date, before: pa.Table | None, on: pa.Table, listed: pa.Table,
              tolerance: float, unexplained_gap: float) -> list[Finding]:
    """Findings for one ex-date: every action (ok, contradicts, not traded) and every unexplained gap."""
    events = day_events(listed, day)
    if before is None or before.num_rows == 0:
        return [Finding(day, symbol, "", NOT_TRADED, row.factor, None, None, row.purposes)
                for symbol, row in events.iterrows()]
    prices = ["symbol", "series", "close"]
    pairs = on.select(prices).to_pandas().merge(before.select(prices).to_pandas(), on=["symbol", "series"],
                                                suffixes=("", "_before"))
    pairs = pairs[(pairs["close"] > 0) & (pairs["close_before"] > 0)]
    findings = []
    for row in pairs.itertuples(index=False):
        ratio = row.close / row.close_before
        if row.symbol in events.index:
            event = events.loc[row.symbol]
            flag = CONTRADICTS if _outside(ratio / event.factor, tolerance) else OK
            findings.append(Finding(day, row.symbol, row.series, flag, float(event.factor),
                                    float(row.close_before), float(row.close), event.purposes))
        elif _outside(ratio, unexplained_gap):
            findings.append(Finding(day, row.symbol, row.series, UNEXPLAINED, None,
                                    float(row.close_before), float(row.close)))
    traded = set(pairs["symbol"])
    findings += [Finding(day, symbol, "", NOT_TRADED, float(row.factor), None, None, row.purposes)
                 for symbol, row in events.iterrows() if symbol not in traded]
    return sorted(findings, key=lambda f: (f.day, f.flag, f.symbol, f.series))


def summary(findings: list[Finding]) -> dict:
    """The run's metrics: actions checked (with prices on both days), contradicted, not traded, gaps."""
    flags = [finding.flag for finding in findings]
    return {"check_actions": flags.count(OK) + flags.count(CONTRADICTS), "check_contradicted": flags.count(CONTRADICTS),
            "check_not_traded": flags.count(NOT_TRADED), "check_unexplained_gaps": flags.count(UNEXPLAINED)}
