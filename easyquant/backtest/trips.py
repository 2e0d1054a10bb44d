"""Round trips: fills grouped into trades (a trade opens when a symbol leaves flat, closes at
flat)."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def round_trips(
    f_bar: np.ndarray,
    f_sym: np.ndarray,
    f_qty: np.ndarray,
    f_px: np.ndarray,
    f_fee: np.ndarray,
    m: int,
    last_mark: np.ndarray,
):
    """Group fills into trades: a trade opens when a symbol leaves flat and closes at flat.

    Return arrays (symbol, entry bar, exit bar (-1 open), signed quantity, entry price, exit
    price, pnl net of fees, fees). Open trades are valued at ``last_mark``.
    """
    nf = len(f_bar)
    sym = np.empty(nf, dtype=np.int64)
    eb = np.empty(nf, dtype=np.int64)
    xb = np.empty(nf, dtype=np.int64)
    qty = np.empty(nf)
    ep = np.empty(nf)
    xp = np.empty(nf)
    pnl = np.empty(nf)
    fee = np.empty(nf)
    open_q = np.zeros(m)
    in_q = np.zeros(m)
    in_v = np.zeros(m)
    out_q = np.zeros(m)
    out_v = np.zeros(m)
    fees = np.zeros(m)
    start = np.full(m, -1, dtype=np.int64)
    nt = 0
    for i in range(nf):
        s = f_sym[i]
        q = f_qty[i]
        px = f_px[i]
        fe = f_fee[i]
        while q != 0:
            if open_q[s] == 0 or (open_q[s] > 0) == (q > 0):
                if open_q[s] == 0:
                    start[s] = f_bar[i]
                    in_q[s] = 0.0
                    in_v[s] = 0.0
                    out_q[s] = 0.0
                    out_v[s] = 0.0
                    fees[s] = 0.0
                open_q[s] += q
                in_q[s] += abs(q)
                in_v[s] += abs(q) * px
                fees[s] += fe
                q = 0.0
            else:
                take = min(abs(q), abs(open_q[s]))
                share = take / abs(q)
                fees[s] += fe * share
                fe -= fe * share
                out_q[s] += take
                out_v[s] += take * px
                direction = 1.0 if open_q[s] > 0 else -1.0
                open_q[s] -= direction * take
                q += direction * take
                if abs(open_q[s]) < 1e-12:
                    open_q[s] = 0.0
                    avg_in = in_v[s] / in_q[s]
                    avg_out = out_v[s] / out_q[s]
                    sym[nt] = s
                    eb[nt] = start[s]
                    xb[nt] = f_bar[i]
                    qty[nt] = direction * in_q[s]
                    ep[nt] = avg_in
                    xp[nt] = avg_out
                    pnl[nt] = direction * (out_v[s] - avg_in * out_q[s]) - fees[s]
                    fee[nt] = fees[s]
                    nt += 1
    for s in range(m):
        if open_q[s] != 0:
            direction = 1.0 if open_q[s] > 0 else -1.0
            avg_in = in_v[s] / in_q[s]
            realised = direction * (out_v[s] - avg_in * out_q[s])
            sym[nt] = s
            eb[nt] = start[s]
            xb[nt] = -1
            qty[nt] = direction * in_q[s]
            ep[nt] = avg_in
            xp[nt] = last_mark[s]
            pnl[nt] = realised + open_q[s] * (last_mark[s] - avg_in) - fees[s]
            fee[nt] = fees[s]
            nt += 1
    return sym[:nt], eb[:nt], xb[:nt], qty[:nt], ep[:nt], xp[:nt], pnl[:nt], fee[:nt]
