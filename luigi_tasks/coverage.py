"""What a range of status lines adds up to: a month or year per line, JSON for monitoring, and a page.

Pure: it takes the `status.DayStatus` records the status command computes and renders them. The
page is one self-contained HTML file: a plotly heat-map per dataset (a row per year, a cell per
day, coloured by state, the state, rows and route on hover; plotly.js inlined so it opens
offline) and the monthly table, put together with a Jinja2 template.
"""
import json
from dataclasses import asdict, dataclass, field
from datetime import date

from .status import STATES

COLOURS = {"done": "#2e7d32", "missing": "#d50000", "corrupt": "#6a1b9a", "closed": "#e0e0e0",
           "late": "#ff9800", "unknown": "#fdd835", "not-due": "#90caf9"}


@dataclass
class Period:
    """One month (`2025-06`) or year (`2025`) of one dataset."""

    period: str
    dataset: str
    counts: dict = field(default_factory=lambda: dict.fromkeys(STATES, 0))
    rows: int = 0

    @property
    def sessions(self) -> int:
        return sum(count for state, count in self.counts.items() if state != "closed")

    def line(self) -> str:
        shown = ", ".join(f"{self.counts[state]} {state}" for state in STATES
                          if state not in ("done", "closed") and self.counts[state])
        return (f"{self.period:<17} {self.dataset:<8} {self.sessions:>5,} sessions {self.counts['done']:>5,} done"
                f"{', ' + shown if shown else ''}; {self.counts['closed']} closed; {self.rows:>12,} rows")


def periods(statuses, by: str) -> list[Period]:
    """Group day statuses by month or year and dataset, in date order."""
    width = {"month": 7, "year": 4}[by]
    grouped: dict[tuple[str, str], Period] = {}
    for status in statuses:
        key = (status.day.isoformat()[:width], status.dataset)
        period = grouped.setdefault(key, Period(*key))
        period.counts[status.state] = period.counts.get(status.state, 0) + 1
        period.rows += status.rows or 0
    return [grouped[key] for key in sorted(grouped)]


def merged(periods_: list[Period]) -> list[Period]:
    """Runs of consecutive periods with nothing missing, per dataset, as one line each.

    So a 20-year lake with a few gaps fits a screen: the gaps keep their own lines.
    """
    out: list[Period] = []
    for period in periods_:
        whole = period.sessions == period.counts["done"]
        last = out[-1] if out else None
        if whole and last is not None and last.dataset == period.dataset and getattr(last, "whole", False):
            first = last.period.split("..")[0]
            last.period = f"{first}..{period.period}"
            last.counts = {state: last.counts[state] + period.counts[state] for state in STATES}
            last.rows += period.rows
            continue
        copy = Period(period.period, period.dataset, dict(period.counts), period.rows)
        copy.whole = whole
        out.append(copy)
    return out


def as_json(statuses, by: str | None) -> str:
    """The same facts as the lines: every day, or every period, as one JSON document."""
    if by:
        return json.dumps({"by": by, "periods": [{**asdict(p), "sessions": p.sessions} for p in periods(statuses, by)]},
                          indent=1)
    return json.dumps({"days": [{**asdict(s), "day": s.day.isoformat()} for s in statuses]}, indent=1)


def heatmap(statuses, dataset: str):
    """A year per row, a day of the year per column; every day of the range has a cell."""
    import plotly.graph_objects as go

    days = [s for s in statuses if s.dataset == dataset]
    years = sorted({s.day.year for s in days})
    columns = sorted({s.day.timetuple().tm_yday for s in days})
    z = {year: {column: None for column in columns} for year in years}
    hover = {year: {column: "" for column in columns} for year in years}
    for status in days:
        column = status.day.timetuple().tm_yday
        z[status.day.year][column] = STATES.index(status.state)
        hover[status.day.year][column] = status.line()  # the status command's own line
    scale = []
    for index, state in enumerate(STATES):  # one flat band of colour per state
        scale += [(index / len(STATES), COLOURS[state]), ((index + 1) / len(STATES), COLOURS[state])]
    figure = go.Figure(go.Heatmap(
        z=[[z[year][c] for c in columns] for year in years], x=columns, y=[str(year) for year in years],
        text=[[hover[year][c] for c in columns] for year in years], hoverinfo="text", zmin=-0.5,
        zmax=len(STATES) - 0.5, colorscale=scale, xgap=1, ygap=1,
        colorbar={"tickvals": list(range(len(STATES))), "ticktext": list(STATES)},
    ))
    figure.update_layout(title=f"{dataset}: one cell per day", height=160 + 22 * len(years),
                         margin={"l": 60, "r": 20, "t": 50, "b": 40}, xaxis_title="day of the year",
                         yaxis={"type": "category", "autorange": "reversed"}, plot_bgcolor="white")
    return figure


PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title>
<style>body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}th{background:#f5f5f5}
.legend span{display:inline-block;padding:2px 8px;margin-right:4px;color:#000}</style></head>
<body><h1>{{ title }}</h1>
<p class="legend">{% for state, colour in colours.items() %}<span style="background:{{ colour }}">{{ state }}</span>{% endfor %}</p>
{% for figure in figures %}<div class="dataset">{{ figure | safe }}</div>
{% endfor %}
<h2>By month</h2>
<table id="monthly"><tr><th>month</th><th>dataset</th><th>sessions</th>{% for state in states %}<th>{{ state }}</th>{% endfor %}<th>rows</th></tr>
{% for p in months %}<tr><td>{{ p.period }}</td><td>{{ p.dataset }}</td><td>{{ p.sessions }}</td>{% for state in states %}<td>{{ p.counts[state] }}</td>{% endfor %}<td>{{ "{:,}".format(p.rows) }}</td></tr>
{% endfor %}</table></body></html>
"""


def page(statuses, title: str) -> str:
    """The coverage page: heat-maps first, then the monthly table; opens with no network."""
    import jinja2

    datasets = list(dict.fromkeys(s.dataset for s in statuses))
    figures = [heatmap(statuses, dataset).to_html(full_html=False, include_plotlyjs=(i == 0), config={"responsive": True})
               for i, dataset in enumerate(datasets)]
    template = jinja2.Environment(autoescape=True).from_string(PAGE)
    return template.render(title=title, colours=COLOURS, figures=figures, states=STATES,
                           months=periods(statuses, "month"))


def title_for(start: date, stop: date) -> str:
    return f"NSE bhavcopy coverage, {start.isoformat()} to {stop.isoformat()} (exclusive)"
