"""NSE's PURPOSE text (the PR zip's Bc member) -> the corporate actions it names, one per part.

Pure functions. One PURPOSE may list several actions, separated by `/` (`DIV-RS0.40/SPLDIV-RS0.20`,
`AGM/DIV - RE 0.5 PER SH`); a `/` inside an amount (`RS 10/-`, `RS 2/SH`) separates nothing.

Factors scale prices before the ex-date (volumes divide by them):
- `BONUS a:b` (a new shares for every b held): b / (a + b);
- a face-value split from x to y (`FVSPLT FRM RS 10 TO RS 2`): y / x;
- a consolidation from x to y (`CONSOLIDATION FRM RE 1 TO RS 10`): y / x as well, above 1.
Rights (`RIGHTS 1:4 @ PRM RS 6/-`) keep their ratio but no factor: adjusting for them needs the
subscription price against the cum-rights price, which this file does not give.

Texts that are not about equity prices but are understood (interest payments, redemptions, buy
backs, capital reductions) get kind `other`; so does any text not understood, which `understood`
says apart so that it can be counted.
"""
import re
from dataclasses import dataclass

KINDS = ("bonus", "split", "consolidation", "rights", "dividend", "demerger", "meeting", "other")
ADJUSTING = ("bonus", "split", "consolidation")  # kinds whose factor adjusts prices

_SEPARATOR = re.compile(r"/(?!\s*-)(?!\s*(?:SH\b|SHARE\b|PER\b))")
_NUMBER = r"(\d+(?:\.\d+)?|\.\d+)"
_RATIO = re.compile(rf"{_NUMBER}\s*:\s*{_NUMBER}")
_RUPEES = rf"R[SE]\.?\s*{_NUMBER}"
_FROM_TO = re.compile(rf"FR?O?M\.?\s*{_RUPEES}\s*(?:/-)?\s*(?:PER\s*(?:EQUITY\s*)?SH(?:ARE)?\S*\s*)?(?:EACH\s*)?TO\s*{_RUPEES}")
_BONUS = re.compile(r"\bBONUS\b")
_SPLIT = re.compile(r"\b(?:FV\s*SPLT|FVSPLT|FV\s*SPLIT|SPLIT|SUB[-\s]?DIVISION)\b")
_CONSOLIDATION = re.compile(r"\bCONSOL\w*|\bCONSL\w*")
_RIGHTS = re.compile(r"^RIGHTS?\b")
_DIVIDEND = re.compile(r"\b(?:INT|INTERIM|FIN|FINAL|SPL|SPECIAL)?\s*DIV(?:IDEND)?\b")
_AMOUNT = re.compile(_RUPEES)
_DEMERGER = re.compile(r"\bDE-?MERGER\b")
_MEETING = re.compile(r"^(?:AGM|EGM|EOGM|ANNUAL\s+GENERAL\s+MEETING|EXTRA\s*-?\s*ORDINARY\s+GENERAL\s+MEETING|"
                      r"GENERAL\s+MEETING)$")
_KNOWN_OTHER = re.compile(r"\b(?:INT\w*\s*PA?YM\w*|INTEREST|REDE?M\w*|RDMPTN|BUY\s*-?\s*BACK|CAP(?:ITAL)?\s*RED\w*|"
                          r"PART\s+REDE?M\w*|PRT\s+RDMPTN)\b")


@dataclass(frozen=True)
class Action:
    purpose: str  # this action's part of the PURPOSE, upper case, spaces collapsed
    kind: str
    ratio_new: float | None = None  # BONUS/RIGHTS a:b -> a; split/consolidation: the face value after
    ratio_old: float | None = None  # BONUS/RIGHTS a:b -> b; split/consolidation: the face value before
    factor: float | None = None  # multiplies prices before the ex-date
    amount: float | None = None  # dividend, rupees per share, where NSE prints it
    understood: bool = True


def normalise(text: str) -> str:
    return " ".join(text.upper().split())


def split_purpose(text: str) -> list[str]:
    """The parts of a PURPOSE that name one action each; empty parts dropped."""
    return [part for part in (normalise(piece) for piece in _SEPARATOR.split(text)) if part]


def _float(text: str) -> float:
    return float(text)


def parse_part(part: str) -> Action:
    """One action's text -> its kind, ratio and factor."""
    if _BONUS.search(part):
        ratio = _RATIO.search(part)
        if ratio:
            new, old = _float(ratio[1]), _float(ratio[2])
            if new > 0 and old > 0:
                return Action(part, "bonus", new, old, old / (new + old))
        return Action(part, "other", understood=False)
    if _SPLIT.search(part) or _CONSOLIDATION.search(part):
        face = _FROM_TO.search(part)
        if face:
            before, after = _float(face[1]), _float(face[2])
            if before > 0 and after > 0 and before != after:
                kind = "split" if after < before else "consolidation"
                return Action(part, kind, after, before, after / before)
        return Action(part, "other", understood=False)
    if _RIGHTS.search(part):
        ratio = _RATIO.search(part)
        if ratio:
            return Action(part, "rights", _float(ratio[1]), _float(ratio[2]))
        return Action(part, "other", understood=False)
    if _DEMERGER.search(part):
        return Action(part, "demerger")
    if _MEETING.match(part):
        return Action(part, "meeting")
    if _DIVIDEND.search(part):
        amount = _AMOUNT.search(part)
        return Action(part, "dividend", amount=_float(amount[1]) if amount else None)
    if _KNOWN_OTHER.search(part):
        return Action(part, "other")
    return Action(part, "other", understood=False)


def parse_purpose(text: str) -> list[Action]:
    """Every action a PURPOSE names, in its order; a blank PURPOSE names none."""
    return [parse_part(part) for part in split_purpose(text or "")]
