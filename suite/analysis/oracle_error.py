"""Pairwise verdicts under a surrogate oracle's own error.

On a surrogate benchmark a difference between two methods may be the oracle's error, not the methods'.
Every run records its final incumbent's final metric under each oracle member (`meta.json`
`oracle_members`: NB101's refits of its test model on resampled real cells, NB301's YAHPO surrogate
shifted by models of its disagreement with the official NB301 XGB surrogate). Members fitted to the
same data err together, so their spread understates the error: at the runs' final cells it is compared
with the oracle's error at the top (`top_error`, points: NB101's cross-validated on real cells, NB301's
the disagreement with a second surrogate), and where narrower every
member's deviation from the members' mean is scaled up by `widening = top_error / spread` (>= 1), keeping
the members' pattern across cells (what makes them err together) and giving them the measured size.

A pairwise verdict of the main oracle (significance.pairwise, Holm at the primary budget) holds on this
oracle only if the same method is significantly better under at least `AGREEMENT` of the widened
members (the same test on each member's final values). Otherwise the two methods are not
distinguishable on this oracle. What this covers: the final metric's model error at the cells the
searches ended in. What not: searches that would have taken other paths under another member (the
search metric is the main oracle's only), error all members share (cells unlike any real cell), and the
real cells' own training noise.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from suite.analysis import significance

AGREEMENT = 0.8  # "(nearly) every member": 4 of 5


def member_finals(finals: pd.DataFrame, metas: Mapping[str, dict]) -> pd.DataFrame:
    """One row per run of `finals` whose final incumbent was scored under the oracle's members: columns
    `member_0..K-1` (the final metric under each member) and `top_error`. Runs reported at a budget
    before their last query (another incumbent) or made before members were recorded are left out."""
    rows = []
    for row in finals.itertuples():
        record = (metas.get(row.run_id) or {}).get("oracle_members")
        if not record or record.get("incumbent_key") != row.incumbent_key:
            continue
        rows.append({"run_id": row.run_id, "top_error": record.get("top_error"),
                     **{f"member_{k}": v for k, v in enumerate(record["final"])}})
    return pd.DataFrame(rows)


def widening(members: np.ndarray, top_error: float | None) -> tuple[float, float]:
    """(spread, factor): the root-mean-square over cells of the members' sd (ddof 1), and the factor that
    brings it up to `top_error` (1 if already as wide, or if no error is known)."""
    spread = float(np.sqrt(np.mean(np.var(members, axis=1, ddof=1)))) if members.shape[1] > 1 else 0.0
    if top_error is None or not math.isfinite(top_error) or top_error <= spread:
        return spread, 1.0
    return spread, top_error / spread if spread > 0 else math.inf


def verdicts(finals: pd.DataFrame, metas: Mapping[str, dict], primary: Mapping[str, int],
             rope: float = significance.ROPE) -> pd.DataFrame:
    """Per benchmark and pair at the primary budget: the main verdict, how many widened members agree,
    and whether it holds on this oracle. Empty where no run recorded members."""
    finals = finals[finals["budget"] == finals["benchmark"].map(primary)] if "budget" in finals else finals
    scored = member_finals(finals, metas)
    if scored.empty:
        return pd.DataFrame()
    out = []
    for benchmark, rows in finals.merge(scored, on="run_id").groupby("benchmark"):
        columns = sorted((c for c in rows if c.startswith("member_") and rows[c].notna().all()),
                         key=lambda c: int(c.split("_")[1]))
        values = rows[columns].to_numpy(np.float64)
        top_error = rows["top_error"].dropna()
        spread, factor = widening(values, float(top_error.iloc[0]) if len(top_error) else None)
        centre = values.mean(axis=1, keepdims=True)
        widened = centre + factor * (values - centre) if math.isfinite(factor) else values
        frame = rows.drop(columns=columns).assign(**{c: widened[:, k] for k, c in enumerate(columns)})
        main = significance.pairwise(frame, primary=primary, rope=rope)
        under = [significance.pairwise(frame, primary=primary, rope=rope, column=c) for c in columns]
        need = math.ceil(AGREEMENT * len(columns))
        for i, pair in main.iterrows():
            agree = sum(bool(u.loc[i, "significant"]) and u.loc[i, "better"] == pair["better"] for u in under)
            shifts = [float(u.loc[i, "hl_shift"]) for u in under]
            out.append({
                "benchmark": benchmark, "oracle": pair["oracle"], "method_a": pair["method_a"],
                "method_b": pair["method_b"], "n": len(rows) // max(rows["method"].nunique(), 1),
                "main_better": pair["better"], "main_p_holm": pair["p_holm"], "members": len(columns),
                "members_agreeing": agree if pair["significant"] else 0, "members_needed": need,
                "member_shift_low": min(shifts), "member_shift_high": max(shifts),
                "member_spread": spread, "top_error": float(top_error.iloc[0]) if len(top_error) else math.nan,
                "widening": factor,
                "holds": bool(pair["significant"]) and agree >= need,
            })
    return pd.DataFrame(out)


def sentence(row: Mapping) -> str:
    """The verdict in words, with the oracle's error at the top."""
    a, b = row["method_a"], row["method_b"]
    error = f"the oracle's error at the top: ±{row['top_error']:.2f} points per cell"
    low, high = row["member_shift_low"], row["member_shift_high"]
    first, second = a, b
    if row["main_better"] == b:  # quote the shift as winner minus loser, so that it reads positive
        first, second, low, high = b, a, -high, -low
    shifts = (f"{first} minus {second} under the widened members {significance.signed(low)} to "
              f"{significance.signed(high)} points")
    if row["holds"]:
        return (f"{row['main_better']} better than {second}, under {row['members_agreeing']} of {row['members']} "
                f"widened oracle members too ({shifts}; {error}).")
    if row["main_better"]:
        return (f"{a} vs {b}: not distinguishable on this oracle. The main oracle ranks {row['main_better']} "
                f"first (Holm p {row['main_p_holm']:.3g}), but only {row['members_agreeing']} of {row['members']} "
                f"widened members agree ({row['members_needed']} needed; {shifts}; {error}).")
    return f"{a} vs {b}: not distinguishable on this oracle ({shifts}; {error})."
