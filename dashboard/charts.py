"""Plotly figures for the Overview page, built from the frames in dashboard.analytics.

Amounts arrive as paisa and are turned into rupees here, for the axes only.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboard.money import PAISA_PER_RUPEE, format_npr

KHALTI_PURPLE = "#5C2D91"
PREVIOUS_COLOUR = "#9E86C8"
STATE_COLOURS = {
    "Completed": "#2E7D32",
    "Partially refunded": "#F9A825",
    "Refunded": "#EF6C00",
    "Failed": "#C62828",
    "Confirmed": "#1565C0",
    "Initiated": "#90A4AE",
}
OTHER_COLOUR = "#8D6E63"
HEATMAP_SCALE = [[0.0, "#F6F1FB"], [0.5, "#A57BD0"], [1.0, KHALTI_PURPLE]]
_LAYOUT = {
    "template": "plotly_white",
    "margin": {"l": 10, "r": 10, "t": 40, "b": 10},
    "font": {"family": "Source Sans Pro, sans-serif"},
    "hoverlabel": {"bgcolor": "white"},
}
_GRAIN_LABEL = {"day": "%d %b %Y", "week": "week of %d %b %Y", "month": "%B %Y"}


def rupee_values(paisa: pd.Series) -> list[float]:
    """Rupees as floats, for plotting only (never for arithmetic)."""
    return [int(value) / PAISA_PER_RUPEE for value in paisa]


def _labels(paisa: pd.Series) -> list[str]:
    return [format_npr(int(value)) for value in paisa]


def _period_names(periods: pd.Series, grain: str) -> list[str]:
    return [date.fromisoformat(str(p)[:10]).strftime(_GRAIN_LABEL[grain]) for p in periods]


def volume_figure(
    current: pd.DataFrame, previous: pd.DataFrame, grain: str, *, title: str = ""
) -> go.Figure:
    """Completed volume per bucket, with the previous period dashed over it.

    The previous period is aligned by position (its first bucket over this period's
    first bucket), so "the same day last week" sits on top of today.
    """
    figure = go.Figure()
    x = list(current["period"])
    figure.add_bar(
        name="This period",
        x=x,
        y=rupee_values(current["amount"]),
        marker_color=KHALTI_PURPLE,
        customdata=list(zip(_labels(current["amount"]), current["count"], strict=True)),
        hovertext=_period_names(current["period"], grain),
        hovertemplate="%{hovertext}<br>%{customdata[0]} from %{customdata[1]} payments"
        "<extra></extra>",
    )
    aligned = previous.head(len(current))
    if len(aligned):
        figure.add_scatter(
            name="Previous period",
            x=x[: len(aligned)],
            y=rupee_values(aligned["amount"]),
            mode="lines+markers",
            line={"color": PREVIOUS_COLOUR, "dash": "dash", "width": 2},
            marker={"size": 5},
            customdata=list(zip(_labels(aligned["amount"]), aligned["count"], strict=True)),
            hovertext=_period_names(aligned["period"], grain),
            hovertemplate="%{hovertext}<br>%{customdata[0]} from %{customdata[1]} payments"
            "<extra></extra>",
        )
    figure.update_layout(
        **_LAYOUT,
        title=title,
        yaxis_title="Volume (Rs)",
        yaxis_tickformat=",.0f",
        xaxis_title=None,
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 1, "xanchor": "right"},
        bargap=0.15,
        hovermode="x unified" if grain == "day" else "closest",
    )
    if grain == "month":
        figure.update_xaxes(dtick="M1", tickformat="%b %Y")
    return figure


def payment_type_figure(types: pd.DataFrame) -> go.Figure:
    """Completed volume and number of payments per payment type, side by side."""
    figure = make_subplots(
        rows=1,
        cols=2,
        shared_yaxes=True,
        subplot_titles=("Volume (Rs)", "Payments"),
        horizontal_spacing=0.04,
    )
    names = list(types["type"])
    figure.add_bar(
        name="Volume",
        y=names,
        x=rupee_values(types["amount"]),
        orientation="h",
        marker_color=KHALTI_PURPLE,
        text=_labels(types["amount"]),
        textposition="auto",
        hovertemplate="%{y}: %{text}<extra></extra>",
        row=1,
        col=1,
    )
    figure.add_bar(
        name="Payments",
        y=names,
        x=list(types["count"]),
        orientation="h",
        marker_color=PREVIOUS_COLOUR,
        text=[f"{int(c):,}" for c in types["count"]],
        textposition="auto",
        hovertemplate="%{y}: %{x:,} payments<extra></extra>",
        row=1,
        col=2,
    )
    figure.update_layout(**_LAYOUT, showlegend=False, height=max(240, 80 + 48 * len(names)))
    figure.update_yaxes(autorange="reversed")
    # Every bar carries its value as text, so tick labels would only crowd the panels.
    figure.update_xaxes(showticklabels=False, showgrid=False, zeroline=False)
    return figure


def state_figure(states: pd.DataFrame) -> go.Figure:
    """Share of payments in each state, as a donut."""
    names = [str(s) for s in states["state"]]
    figure = go.Figure(
        go.Pie(
            labels=names,
            values=list(states["count"]),
            hole=0.55,
            sort=False,
            marker={"colors": [STATE_COLOURS.get(n, OTHER_COLOUR) for n in names]},
            customdata=_labels(states["amount"]),
            hovertemplate="%{label}: %{value:,} payments (%{percent})<br>%{customdata}"
            "<extra></extra>",
            textinfo="percent",
            textposition="inside",
            insidetextorientation="horizontal",
        )
    )
    # Slices too thin for a readable label stay unlabelled; the legend and hover name them.
    figure.update_layout(
        **_LAYOUT, legend={"orientation": "v"}, uniformtext={"minsize": 11, "mode": "hide"}
    )
    return figure


def heatmap_figure(grid: pd.DataFrame) -> go.Figure:
    """Payments per Nepal weekday (rows, Sunday first) and hour of day (columns)."""
    hours = [f"{h:02d}:00" for h in grid.columns]
    figure = go.Figure(
        go.Heatmap(
            z=grid.to_numpy().tolist(),
            x=hours,
            y=list(grid.index),
            colorscale=HEATMAP_SCALE,
            xgap=2,
            ygap=2,
            hovertemplate="%{y} %{x} NPT: %{z:,} payments<extra></extra>",
            colorbar={"title": {"text": "Payments"}, "tickformat": ",d"},
        )
    )
    if int(grid.to_numpy().max(initial=0)) <= 5:
        # Few payments: whole-number ticks only, or the scale would read 0.5 payments.
        figure.update_traces(colorbar_dtick=1)
    figure.update_layout(**_LAYOUT, height=320)
    figure.update_yaxes(autorange="reversed")
    figure.update_xaxes(title="Hour of day (NPT)", dtick=2)
    return figure
