"""Store frames turned into what a person reads: NPR with Nepali grouping, Nepal time."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import pandas as pd
import streamlit as st

from dashboard.money import format_npr
from dashboard.nptime import format_npt

TRANSACTION_COLUMNS = {
    "Time (NPT)": st.column_config.TextColumn("Time (NPT)", width="medium"),
    "Amount": st.column_config.TextColumn("Amount", alignment="right"),
    "Fee": st.column_config.TextColumn("Fee", alignment="right"),
    "State": st.column_config.TextColumn("State"),
    "Type": st.column_config.TextColumn("Type"),
    "Customer": st.column_config.TextColumn("Customer"),
    "Mobile": st.column_config.TextColumn("Mobile"),
    "Bank": st.column_config.TextColumn("Bank"),
    "Transaction ID": st.column_config.TextColumn("Transaction ID", width="medium"),
}


def npt_text(moment: Any, *, seconds: bool = True) -> str:
    """Nepal time without the suffix, for columns already labelled (NPT)."""
    if moment is None or (not isinstance(moment, datetime) and pd.isna(moment)):
        return ""
    instant = moment.to_pydatetime() if isinstance(moment, pd.Timestamp) else moment
    return format_npt(instant, seconds=seconds).removesuffix(" NPT")


def _text(value: Any) -> str:
    return "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)


def transactions_display(frame: pd.DataFrame) -> pd.DataFrame:
    """The store's transaction page as display columns, same row order."""
    return pd.DataFrame(
        {
            "Time (NPT)": [npt_text(t) for t in frame["created_on"]],
            "Amount": [format_npr(int(a)) for a in frame["amount"]],
            "Fee": [format_npr(int(f)) for f in frame["fee_amount"]],
            "State": [_text(s) for s in frame["state"]],
            "Type": [_text(t) for t in frame["type"]],
            "Customer": [_text(n) for n in frame["customer_name"]],
            "Mobile": [_text(m) for m in frame["customer_mobile"]],
            "Bank": [_text(b) for b in frame["ebanker"]],
            "Transaction ID": [_text(i) for i in frame["idx"]],
        }
    )


def field_rows(pairs: Mapping[str, Any]) -> pd.DataFrame:
    """A two-column Field/Value frame for a detail panel."""
    return pd.DataFrame({"Field": list(pairs), "Value": [_text(v) for v in pairs.values()]})


def key_value_table(pairs: Mapping[str, Any]) -> None:
    """Label/value pairs as a plain table whose text can be selected and copied."""
    st.table(field_rows(pairs), hide_index=True, hide_header=True, border="horizontal")
