"""Verification desk: settle “I paid” with Khalti's own answer, and keep a record of it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import pandas as pd
import streamlit as st

from dashboard import verify as vf
from dashboard.khalti import KhaltiError
from dashboard.money import format_npr, rupees_text
from dashboard.nptime import format_npt
from dashboard.slip import slip_html
from dashboard.ui.context import PageContext, client_for, page_context, titled
from dashboard.ui.filters import date_range_filter
from dashboard.ui.tables import TRANSACTION_COLUMNS, npt_text, transactions_display

TABS = ("Check payment", "ePayment lookup", "Find payment", "Bulk check", "Audit log")
ALERTS: dict[str, tuple[Callable[..., Any], str]] = {
    "green": (st.success, ":material/check_circle:"),
    "amber": (st.warning, ":material/pause_circle:"),
    "red": (st.error, ":material/block:"),
}
BAD_INPUT = (vf.InputError, vf.AmountError)
state = st.session_state
T = TypeVar("T")


# -- shared pieces ----------------------------------------------------------------------


def ask_khalti(ctx: PageContext, action: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run one desk action with a fresh client for the page's mode, closed afterwards."""
    with client_for(ctx) as client:
        return action(client, *args, **kwargs)


def operator_name(ctx: PageContext) -> str:
    """The signed-in person's name, else the name typed in the sidebar."""
    user = st.user
    if user.get("is_logged_in"):
        name = user.get("name") or user.get("email")
        if name:
            st.sidebar.caption(f"Checks are recorded as **{name}**.")
            return str(name)
    state.setdefault("vf_operator", ctx.settings.operator_name)
    typed = st.sidebar.text_input(
        "Your name",
        key="vf_operator",
        help="Recorded in the audit log with every check, so a dispute can be traced later.",
    )
    return typed.strip() or ctx.settings.operator_name


def prefill_from_link() -> str | None:
    """Fill the desk from a link (?idx=…&token=…&amount=…); returns the tab to open."""
    params = st.query_params
    idx, token, amount = (params.get(name, "").strip() for name in ("idx", "token", "amount"))
    link = (idx, token, amount)
    if not any(link):
        return None
    if state.get("vf_prefilled") != link:
        state["vf_prefilled"] = link
        if token or idx:
            state["vf_token"] = token or idx
        if amount:
            state["vf_amount"] = amount
        if idx:
            state["vf_find"] = idx
    return "Find payment" if idx and not (token or amount) else None


def show_result(ctx: PageContext, result: vf.CheckResult, key: str) -> None:
    """The verdict, big and coloured, with what it rests on and a slip to download."""
    verdict = result.verdict
    alert, icon = ALERTS[verdict.tone]
    alert(f"### {verdict.headline}\n{verdict.reason}", icon=icon)
    if result.action == "verify" and result.returned_amount is not None:
        with st.container(horizontal=True):
            st.metric(
                "Amount entered", format_npr(result.amount_paisa or 0), border=True, width=280
            )
            st.metric(
                "Amount Khalti verified",
                format_npr(result.returned_amount),
                border=True,
                width=280,
            )
    elif result.action in ("lookup", "bulk_lookup") and result.returned_amount is not None:
        with st.container(horizontal=True):
            st.metric("Total amount", format_npr(result.returned_amount), border=True, width=280)
            st.metric("Fee", format_npr(result.fee or 0), border=True, width=280)
        if result.transaction_id:
            st.markdown(f"Khalti transaction ID: `{result.transaction_id}`")
    facts = [
        f"Khalti's state: **{verdict.khalti_state or 'no answer'}**",
        f"{vf.ACTION_LABELS[result.action]} at {format_npt(result.checked_at, seconds=True)}",
        f"audit record #{result.audit_id}",
    ]
    st.caption(" · ".join(facts))
    with st.container(horizontal=True, vertical_alignment="center"):
        slip_button(ctx, result.audit_id, key=f"vf_slip_{key}")
        if result.raw:
            with st.popover("Khalti's answer", icon=":material/data_object:"):
                st.json(dict(result.raw))


def slip_button(ctx: PageContext, audit_id: int | None, key: str) -> None:
    entry = ctx.store.audit_entry(ctx.mode, audit_id) if audit_id is not None else None
    if entry is None:
        return
    raw = entry.get("raw_response")
    merchant = vf.merchant_name_for(ctx.store, ctx.mode, raw if isinstance(raw, dict) else None)
    st.download_button(
        "Download slip",
        data=slip_html(entry, merchant_name=merchant),
        file_name=f"verification-slip-{ctx.mode}-{audit_id}.html",
        mime="text/html",
        key=key,
        icon=":material/receipt:",
        on_click="ignore",
        help="A printable record of this check for a dispute file.",
    )


def parsed_payment() -> tuple[str, int] | None:
    """The token and amount typed on the Check tab, or None after showing what is wrong."""
    problems, token, amount = [], None, None
    try:
        token = vf.parse_token(state.get("vf_token"))
    except BAD_INPUT as exc:
        problems.append(str(exc))
    try:
        amount = vf.parse_amount(state.get("vf_amount"))
    except BAD_INPUT as exc:
        problems.append(str(exc))
    if problems or token is None or amount is None:
        st.error(" ".join(problems), icon=":material/edit_note:")
        return None
    return token, amount


def typed_payment_is(token: str, amount: int) -> bool:
    """True while the Check tab's inputs still say this token and amount."""
    try:
        return (
            vf.parse_token(state.get("vf_token")) == token
            and vf.parse_amount(state.get("vf_amount")) == amount
        )
    except BAD_INPUT:
        return False


# -- Check payment -------------------------------------------------------------------------


def test_payment_helper(ctx: PageContext) -> None:
    if ctx.is_live or not ctx.config.public_key:
        return
    with st.expander("Try it: create a test payment", icon=":material/science:"):
        st.caption(
            "Pays this test account the way a customer would (sandbox Khalti ID, MPIN 1111, "
            "OTP 987654) and fills in the token and amount below, ready to check and verify. "
            "Test mode only: no real money moves."
        )
        state.setdefault("vf_test_amount", "100")
        with st.container(horizontal=True, vertical_alignment="bottom"):
            st.text_input("Amount (Rs)", key="vf_test_amount", width=160)
            payer = st.selectbox("Test customer", vf.TEST_PAYERS, key="vf_test_payer", width=200)
            create = st.button("Create test payment", key="vf_test_create")
        if not create:
            return
        try:
            amount = vf.parse_amount(state.get("vf_test_amount"))
            with st.spinner("Paying as the test customer…"):
                confirmation = ask_khalti(ctx, vf.create_test_payment, amount, payer)
        except BAD_INPUT as exc:
            st.error(str(exc), icon=":material/edit_note:")
            return
        except KhaltiError as exc:
            st.error(f"The test payment could not be made. {exc.message}", icon=":material/error:")
            return
        state["vf_token"] = confirmation.token
        state["vf_amount"] = rupees_text(confirmation.amount)
        st.success(
            f"Test payment of {format_npr(confirmation.amount)} made: the customer has paid, "
            "and it now waits for you to verify it. Its token and amount are filled in below.",
            icon=":material/check:",
        )


def check_tab(ctx: PageContext, operator: str) -> None:
    result_key, pending_key, notice_key = (
        ctx.key("vf_check_result"),
        ctx.key("vf_pending"),
        ctx.key("vf_notice"),
    )
    test_payment_helper(ctx)
    with st.container(horizontal=True):
        st.text_input(
            "Payment token or transaction ID",
            key="vf_token",
            placeholder="e.g. 8xmeJnNXfoVjCvGcZiiGe7",
            help="The token your order system received from Khalti checkout, or the "
            "transaction ID from the Transactions page.",
        )
        st.text_input(
            "Amount (Rs)",
            key="vf_amount",
            placeholder="e.g. 1,500.50",
            width=200,
            help="Exactly what the customer paid, in rupees.",
        )
    with st.container(horizontal=True):
        check = st.button("Check status", type="primary", key="vf_check", icon=":material/search:")
        verify = st.button("Verify and complete…", key="vf_verify", icon=":material/task_alt:")
    st.caption(
        "**Check status** only reads: it is always safe. **Verify and complete** tells Khalti "
        "to complete a payment the customer has confirmed, which moves the money; it asks "
        "you to confirm first and is never sent twice."
    )
    if check or verify:
        for key in (result_key, pending_key, notice_key, ctx.key("vf_confirm_typed")):
            state.pop(key, None)
        payment = parsed_payment()
        if payment and check:
            run_status_check(ctx, operator, *payment, result_key)
        elif payment:
            state[pending_key] = payment
    confirm_panel(ctx, operator)
    notice = state.get(notice_key)
    if notice and not typed_payment_is(*notice[:2]):
        state.pop(notice_key, None)
        notice = None
    if notice:
        st.warning(notice[2], icon=":material/content_copy:")
    result = state.get(result_key)
    if result is not None and not typed_payment_is(result.reference, result.amount_paisa):
        state.pop(result_key, None)
        result = None
    if result is not None:
        show_result(ctx, result, "check")
    unknown = result is not None and result.verdict.decision == vf.Decision.UNKNOWN
    if (notice or unknown) and st.button("Check status now", type="primary", key="vf_recheck"):
        payment = parsed_payment()
        if payment:
            run_status_check(ctx, operator, *payment, result_key)
            st.rerun()
    if result is not None and result.verdict.khalti_state == "Confirmed":
        st.info(
            "This payment can be completed here: press **Verify and complete…** above.",
            icon=":material/arrow_upward:",
        )


def run_status_check(
    ctx: PageContext, operator: str, token: str, amount: int, result_key: str
) -> None:
    with st.spinner("Asking Khalti…"):
        state[result_key] = ask_khalti(
            ctx, vf.check_status, ctx.store, ctx.mode, token, amount, operator
        )
    state.pop(ctx.key("vf_notice"), None)


def confirm_panel(ctx: PageContext, operator: str) -> None:
    """The second step of Verify: name the amount and mode; in live mode, type the amount."""
    pending_key = ctx.key("vf_pending")
    pending = state.get(pending_key)
    if pending is None:
        return
    token, amount = pending
    if not typed_payment_is(token, amount):
        state.pop(pending_key, None)
        return
    slot = st.empty()
    with slot.container(border=True):
        mode_words = "LIVE — real money" if ctx.is_live else "test mode — no real money"
        st.markdown(f"#### Verify and complete {format_npr(amount)}?")
        st.markdown(
            f"Token `{token}` · **{mode_words}**. Khalti will complete this payment and move "
            f"{format_npr(amount)} to your account. It is sent once and cannot be undone here."
        )
        typed = None
        if ctx.is_live:
            typed = st.text_input(
                "To confirm, type the amount in rupees",
                key=ctx.key("vf_confirm_typed"),
                placeholder=rupees_text(amount),
            )
        with st.container(horizontal=True):
            yes = st.button(f"Yes, verify {format_npr(amount)}", type="primary", key="vf_confirm")
            no = st.button("Cancel", key="vf_cancel")
    if no:
        state.pop(pending_key, None)
        slot.empty()
        return
    if not yes:
        return
    if ctx.is_live and not amount_matches(typed, amount):
        st.error(
            f"Type the amount exactly ({rupees_text(amount)}) to confirm. Nothing was sent.",
            icon=":material/edit_note:",
        )
        return
    # Claimed before anything else: a second click or a rerun finds nothing to send.
    if state.pop(pending_key, None) is None:
        return
    slot.empty()
    with st.spinner("Verifying with Khalti…"):
        try:
            state[ctx.key("vf_check_result")] = ask_khalti(
                ctx, vf.verify_checkout, ctx.store, ctx.mode, token, amount, operator
            )
        except vf.DuplicateActionError as exc:
            state[ctx.key("vf_notice")] = (token, amount, vf.duplicate_message(exc.existing))


def amount_matches(typed: str | None, amount: int) -> bool:
    try:
        return vf.parse_amount(typed) == amount
    except BAD_INPUT:
        return False


# -- ePayment lookup -----------------------------------------------------------------------


def lookup_tab(ctx: PageContext, operator: str) -> None:
    result_key = ctx.key("vf_lookup_result")
    st.text_input(
        "pidx",
        key="vf_pidx",
        placeholder="e.g. bZQLD9wRVWo4CdESSfuSsB",
        help="The payment ID of an ePayment link (…?pidx=…) or from your return URL.",
    )
    if st.button("Look up", type="primary", key="vf_lookup", icon=":material/search:"):
        state.pop(result_key, None)
        try:
            pidx = vf.parse_pidx(state.get("vf_pidx"))
        except BAD_INPUT as exc:
            st.error(str(exc), icon=":material/edit_note:")
        else:
            with st.spinner("Asking Khalti…"):
                state[result_key] = ask_khalti(
                    ctx, vf.lookup_epayment, ctx.store, ctx.mode, pidx, operator
                )
    st.caption("A return to your website is not proof of payment; this lookup is.")
    result = state.get(result_key)
    if result is not None and (state.get("vf_pidx") or "").strip() == result.reference:
        show_result(ctx, result, "lookup")


# -- Find payment --------------------------------------------------------------------------


def find_tab(ctx: PageContext, operator: str) -> None:
    text = st.text_input(
        "Transaction ID, customer mobile or name",
        key="vf_find",
        placeholder="e.g. 98XXXXXX09 or Sita",
        help="Searches this dashboard's copy of your Khalti transactions.",
    ).strip()
    if not text:
        st.caption("Type part of a transaction ID, a mobile number or a customer's name.")
        return
    found = ctx.store.find_transactions(ctx.mode, text, limit=20)
    if found.empty:
        st.info(
            f"No payment here matches “{text}”. It may be newer than the last sync.",
            icon=":material/search_off:",
        )
        if is_reference(text) and st.button(
            "Fetch it from Khalti", key="vf_fetch", icon=":material/cloud_download:"
        ):
            refresh(ctx, operator, text)
        show_refresh(ctx, text)
        return
    st.dataframe(
        transactions_display(found),
        hide_index=True,
        height="content",
        column_config=TRANSACTION_COLUMNS,
    )
    labels = {
        row.idx: f"{npt_text(row.created_on, seconds=False)} · {format_npr(int(row.amount))} · "
        f"{row.state} · {row.customer_name or 'unknown customer'} · {row.idx}"
        for row in found.itertuples()
    }
    idx = st.selectbox(
        "Payment", list(labels), format_func=labels.__getitem__, key=ctx.key("vf_find_pick")
    )
    if idx is None:
        return
    stored = found.loc[found["idx"] == idx].iloc[0]
    amount = int(stored["amount"])
    with st.container(horizontal=True):
        do_refresh = st.button("Refresh from Khalti", key="vf_refresh", icon=":material/refresh:")
        do_check = st.button(
            f"Check status ({format_npr(amount)})",
            type="primary",
            key="vf_find_check",
            icon=":material/search:",
        )
    result_key = ctx.key("vf_find_result")
    if do_refresh:
        refresh(ctx, operator, idx)
    if do_check:
        state.pop(ctx.key("vf_refresh"), None)
        with st.spinner("Asking Khalti…"):
            state[result_key] = ask_khalti(
                ctx, vf.check_status, ctx.store, ctx.mode, idx, amount, operator
            )
    show_refresh(ctx, idx)
    result = state.get(result_key)
    if result is not None and result.reference == idx:
        show_result(ctx, result, "find")


def is_reference(text: str) -> bool:
    try:
        vf.parse_token(text)
    except BAD_INPUT:
        return False
    return True


def refresh(ctx: PageContext, operator: str, idx: str) -> None:
    state.pop(ctx.key("vf_find_result"), None)
    with st.spinner("Fetching from Khalti…"):
        state[ctx.key("vf_refresh")] = ask_khalti(
            ctx, vf.refresh_transaction, ctx.store, ctx.mode, idx, operator
        )


def show_refresh(ctx: PageContext, idx: str) -> None:
    done = state.get(ctx.key("vf_refresh"))
    if done is None or done.result.reference != idx:
        return
    if done.detail is not None:
        if not done.was_stored:
            st.info(
                "This payment was not in the dashboard yet; it has been added.",
                icon=":material/add_circle:",
            )
        elif done.changes:
            changes = "; ".join(f"{label}: {old} → {new}" for label, old, new in done.changes)
            st.info(f"Updated from Khalti. {changes}.", icon=":material/published_with_changes:")
        else:
            st.caption("Khalti has nothing new for this payment.")
    show_result(ctx, done.result, "refresh")


# -- Bulk check ----------------------------------------------------------------------------

SAMPLES = {
    "status": "token,amount\n8xmeJnNXfoVjCvGcZiiGe7,1500\n",
    "lookup": "pidx\nbZQLD9wRVWo4CdESSfuSsB\n",
}


def bulk_tab(ctx: PageContext, operator: str) -> None:
    st.markdown(
        "Upload a CSV file with the columns **token,amount** (amount in rupees) for checkout "
        "payments, or **pidx** for ePayments. Up to 5,000 rows and 2 MB. This only reads: "
        "nothing is verified or charged."
    )
    with st.container(horizontal=True):
        st.download_button(
            "Sample: token,amount",
            SAMPLES["status"],
            file_name="bulk-status-sample.csv",
            mime="text/csv",
            key="vf_sample_status",
            on_click="ignore",
            type="tertiary",
            icon=":material/download:",
        )
        st.download_button(
            "Sample: pidx",
            SAMPLES["lookup"],
            file_name="bulk-lookup-sample.csv",
            mime="text/csv",
            key="vf_sample_lookup",
            on_click="ignore",
            type="tertiary",
            icon=":material/download:",
        )
    upload = st.file_uploader(
        "CSV file", type=["csv", "txt"], key="vf_bulk_file", max_upload_size=2
    )
    if upload is None:
        return
    try:
        plan = vf.parse_bulk_csv(upload.getvalue())
    except vf.BulkFileError as exc:
        st.error(str(exc), icon=":material/draft:")
        return
    what = "status checks (token, amount)" if plan.kind == "status" else "ePayment lookups (pidx)"
    st.markdown(f"**{len(plan.ready):,}** rows ready for {what}.")
    if plan.problems:
        st.warning(
            f"{len(plan.problems):,} rows will not be sent; fix them and upload again if needed.",
            icon=":material/rule:",
        )
        st.dataframe(
            pd.DataFrame(
                {
                    "Line": [row.line for row in plan.problems],
                    "Problem": [row.problem for row in plan.problems],
                }
            ),
            hide_index=True,
            height=min(400, 38 + 35 * len(plan.problems)),
        )
    file_key = (upload.file_id, upload.name, upload.size)
    results_key = ctx.key("vf_bulk_results")
    if st.button(
        f"Check {len(plan.ready):,} rows",
        type="primary",
        key="vf_bulk_run",
        disabled=not plan.ready,
        icon=":material/playlist_add_check:",
    ):
        bar = st.progress(0.0, text="Asking Khalti…")

        def progress(done: int, total: int) -> None:
            bar.progress(done / total if total else 1.0, text=f"Checked {done:,} of {total:,}")

        results = ask_khalti(
            ctx, vf.run_bulk, ctx.store, ctx.mode, plan, operator, on_progress=progress
        )
        bar.empty()
        state[results_key] = (file_key, plan, results)
    stored = state.get(results_key)
    if stored is None or stored[0] != file_key:
        return
    _, plan, results = stored
    show_bulk_results(plan, results, upload.name)


def show_bulk_results(plan: vf.BulkPlan, results: list[vf.BulkResult], name: str) -> None:
    counts = vf.bulk_summary(results)
    with st.container(horizontal=True):
        for label in ("Deliver", "Hold", "Do not deliver", "Could not check", "Not checked"):
            if counts.get(label):
                st.metric(label, f"{counts[label]:,}", border=True)
    table = pd.DataFrame(
        {
            "Line": [item.row.line for item in results],
            "Reference": [
                item.row.reference or next(iter(item.row.cells.values()), "") for item in results
            ],
            "Verdict": [
                item.result.verdict.headline if item.result else "Not checked" for item in results
            ],
            "Khalti's state": [
                (item.result.verdict.khalti_state or "") if item.result else "" for item in results
            ],
            "Why": [
                item.result.verdict.reason if item.result else (item.row.problem or "")
                for item in results
            ],
        }
    )
    st.dataframe(
        table,
        hide_index=True,
        column_config={
            "Reference": st.column_config.TextColumn(width="medium"),
            "Why": st.column_config.TextColumn(width="large"),
        },
    )
    stem = name.rsplit(".", 1)[0] or "bulk"
    st.download_button(
        "Download results (CSV)",
        vf.bulk_results_csv(plan, results),
        file_name=f"{stem}-checked.csv",
        mime="text/csv",
        key="vf_bulk_download",
        on_click="ignore",
        type="primary",
        icon=":material/download:",
    )


# -- Audit log -----------------------------------------------------------------------------


def audit_tab(ctx: PageContext) -> None:
    with st.container(horizontal=True, vertical_alignment="bottom"):
        period = date_range_filter("vf_audit", default="Last 7 days")
        action = st.selectbox(
            "Action",
            ["", *vf.ACTIONS],
            format_func=lambda a: vf.ACTION_LABELS.get(a, "All actions"),
            key="vf_audit_action",
        )
        verdict = st.selectbox(
            "Verdict",
            ["", *(d.value for d in vf.Decision)],
            format_func=lambda v: v or "All verdicts",
            key="vf_audit_verdict",
        )
        search = st.text_input(
            "Search", placeholder="token, pidx, name or note", key="vf_audit_search"
        )
    if period is None:
        return
    first, last = period
    frame = ctx.store.list_audit(
        ctx.mode,
        first_day=first,
        last_day=last,
        action=action or None,
        verdict=verdict or None,
        search=search or None,
        limit=1000,
    )
    if frame.empty:
        st.info("No checks are recorded for these filters.", icon=":material/history:")
        return
    records = frame.to_dict("records")
    st.dataframe(audit_display(frame), hide_index=True, column_config=AUDIT_COLUMNS)
    with st.container(horizontal=True, vertical_alignment="bottom"):
        st.download_button(
            "Download log (CSV)",
            vf.audit_csv(records),
            file_name=f"verification-log-{ctx.mode}-{first}-{last}.csv",
            mime="text/csv",
            key="vf_audit_download",
            on_click="ignore",
            icon=":material/download:",
        )
        labels = {int(r["id"]): f"#{r['id']} · {r['verdict']} · {r['reference']}" for r in records}
        # Unkeyed on purpose: when new records arrive the newest is picked again.
        picked = st.selectbox(
            "Slip for record", list(labels), format_func=labels.__getitem__, width=420
        )
        if picked is not None:
            slip_button(ctx, picked, key="vf_audit_slip")


AUDIT_COLUMNS = {
    "Time (NPT)": st.column_config.TextColumn(width="medium"),
    "Action": st.column_config.TextColumn(width="medium"),
    "Reference": st.column_config.TextColumn(width="medium"),
    "Amount": st.column_config.TextColumn(alignment="right"),
    "Note": st.column_config.TextColumn(width="medium"),
}


def audit_display(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Time (NPT)": [npt_text(t) for t in frame["at"]],
            "Action": [vf.ACTION_LABELS.get(a, a) for a in frame["action"]],
            "Reference": frame["reference"],
            "Amount": ["" if pd.isna(a) else format_npr(int(a)) for a in frame["amount_paisa"]],
            "Verdict": frame["verdict"],
            "Khalti's state": frame["khalti_state"].fillna(""),
            "By": frame["operator"],
            "Note": frame["note"].fillna(""),
            "Record": [f"#{i}" for i in frame["id"]],
        }
    )


# -- the page ------------------------------------------------------------------------------

ctx = page_context()
st.title(titled(ctx, "Verify payments"))
st.caption(
    "When a customer says “I paid”, ask Khalti directly. Only **Deliver** means hand over "
    "the goods. Every check is recorded in the audit log."
)
operator = operator_name(ctx)
opened = prefill_from_link()
check, lookup, find, bulk, audit = st.tabs(TABS, default=opened)
with check:
    check_tab(ctx, operator)
with lookup:
    lookup_tab(ctx, operator)
with find:
    find_tab(ctx, operator)
with bulk:
    bulk_tab(ctx, operator)
with audit:
    audit_tab(ctx)
