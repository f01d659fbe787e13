"""What each lake column means, for docs/schemas.md (reference_docs.py renders it beside schema.py's types).

Keyed by lake table, then column. Names, types and nullability come from schema.py alone; a note
naming a column the schema does not have fails the generator, so the two cannot drift apart.
"""

NOTES = {
    "cm_bhavcopy": {
        "trade_date": "also in the partition path",
        "isin": "missing in files from before about 2011",
        "open": "rupees, as NSE prints them (no rounding)",
        "last": "rupees; empty (null) on some traded debt rows (ZT, YT)",
        "prev_close": "rupees",
        "volume": "shares (`TOTTRDQTY` / `TtlTradgVol`)",
        "turnover": "rupees (`TOTTRDVAL` / `TtlTrfVal`)",
        "trades": "`TOTALTRADES` / `TtlNbOfTxsExctd`; missing before about 2011",
        "source_format": "`legacy` or `udiff`",
    },
    "fo_bhavcopy": {
        "instrument_type": "`STF`, `IDF` (futures), `STO`, `IDO` (options); legacy `FUTSTK`, `FUTIDX`, `OPTSTK`, "
                           "`OPTIDX` are mapped to these; any other (`FUTIVX`, India VIX futures) is kept as written",
        "strike_price": "null for futures (legacy writes 0)",
        "option_type": "`CE` (call) or `PE` (put); null for futures (legacy `XX`); legacy `CA`/`PA` are stored as "
                       "`CE`/`PE` with `exercise_style` `american`",
        "exercise_style": "`european` (CE/PE) or `american` (legacy CA/PA: stock options until about 2010/2011); "
                          "null for futures. Part of the key",
        "open": "rupees; zero for untraded contracts (so are high, low, close)",
        "settle_price": "rupees",
        "prev_close": "UDiFF only",
        "underlying_price": "UDiFF only",
        "volume": "**contracts** (`CONTRACTS` / `TtlTradgVol`)",
        "turnover": "rupees (legacy `VAL_INLAKH` x 100,000; UDiFF `TtlTrfVal`)",
        "open_interest": "**shares** of the underlying, not contracts",
        "change_in_oi": "shares",
        "trades": "UDiFF only (`TtlNbOfTxsExctd`)",
        "lot_size": "shares per contract; UDiFF only (`NewBrdLotQty`)",
        "source_format": "`legacy` or `udiff`",
    },
    "cm_delivery": {
        "last": "rupees; blank (null) on some debt rows",
        "avg_price": "rupees, the volume-weighted average",
        "volume": "shares traded (`TTL_TRD_QNTY`)",
        "turnover": "rupees (`TURNOVER_LACS` x 100,000, kept to the paisa)",
        "trades": "`NO_OF_TRADES`",
        "delivery_qty": "shares marked for delivery; null where NSE prints `-` (BE/BZ rows)",
        "delivery_pct": "`delivery_qty` / `volume` x 100; null where NSE prints `-`",
        "source_format": "`full`",
    },
    "corporate_actions": {
        "trade_date": "the PR day that listed the action",
        "line": "data line of the Bc member, from 1",
        "part": "which action of the line's PURPOSE, from 1",
        "series": "`''` where NSE leaves it blank (seen on debt rows)",
        "bc_start_date": "book closure start",
        "ex_date": "null for some redemptions",
        "nd_start_date": "no-delivery period start",
        "purpose_text": "the whole PURPOSE, spaces collapsed",
        "purpose": "this action's part of it, upper case, spaces collapsed",
        "kind": "`bonus`, `split`, `consolidation`, `rights`, `dividend`, `demerger`, `meeting` or `other`",
        "ratio_new": "BONUS/RIGHTS a:b -> a; split or consolidation: the face value after",
        "ratio_old": "BONUS/RIGHTS a:b -> b; split or consolidation: the face value before",
        "factor": "multiplies prices before the ex-date: BONUS a:b -> b/(a+b); from x to y -> y/x",
        "amount": "dividend: rupees per share, where printed",
        "source_format": "`bc`",
    },
    "prices52": {
        "market": "`MKT`: `N` for a security (index rows, `Y`, are rejected)",
        "turnover": "rupees (`NET_TRDVAL`)",
        "volume": "shares (`NET_TRDQTY`)",
        "hi_52_wk": "not adjusted for corporate actions (NSE's readme)",
        "index_security": "`IND_SEC`: `Y` for a Nifty 50 security",
        "corp_ind": "`CORP_IND` as printed",
        "source_format": "`pd`",
    },
    "index_close": {
        "open": "null where NSE prints `-` (India VIX has only a close; new indices lack open, high, low)",
        "volume": "shares",
        "turnover": "rupees (the file's crores x 10,000,000)",
        "source_format": "`ind_close_all`",
    },
}
