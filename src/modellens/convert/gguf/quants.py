"""GGML block quantizers in vectorised numpy, bit for bit equal to llama.cpp's reference.

Block layouts (``ggml-common.h``; ``d``/``dmin`` are float16, ``QK_K`` = 256)::

    Q8_0  32 values:  d, qs[32] (int8)                                         34 bytes
    Q4_0  32 values:  d, qs[16] (two 4-bit values a byte, low half first)      18 bytes
    Q4_1  32 values:  d, m, qs[16]                                             20 bytes
    Q5_0  32 values:  d, qh[4] (the 5th bits), qs[16]                          22 bytes
    Q5_1  32 values:  d, m, qh[4], qs[16]                                      24 bytes
    Q2_K 256 values:  scales[16] (4-bit scale | 4-bit min), qs[64], d, dmin    84 bytes
    Q3_K 256 values:  hmask[32], qs[64], scales[12] (6-bit, packed), d        110 bytes
    Q4_K 256 values:  d, dmin, scales[12] (6-bit scale+min, packed), qs[128]  144 bytes
    Q5_K 256 values:  d, dmin, scales[12], qh[32], qs[128]                    176 bytes
    Q6_K 256 values:  ql[128], qh[64], scales[16] (int8), d                   210 bytes

The K-quant reference (``quantize_row_q*_K_ref`` in ``ggml/src/ggml-quants.c``) searches for
each sub-block's scale and minimum with float32 sums accumulated element by element.  To give
the same bytes, every sum here is a float32 sum in the same order: sub-blocks are laid out as
``(elements, sub_blocks)`` arrays and reduced over axis 0, which numpy does one row at a time
(never pairwise).  ``np.rint`` is the reference's ``nearest_int`` (round half to even);
``_roundf`` is C's ``roundf`` (half away from zero) used by Q8_0.

The legacy types (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1) give the same bytes as ``gguf.quants``; they
are rewritten here in float32 over cache-sized chunks (several times faster).  Tests check every
type bit for bit: the legacy ones against ``gguf.quants``, the K-quants against ggml's own C
code (``ggml_quantize_chunk`` of the ggml library that llama-cpp-python ships).

:func:`quantize` takes a float32 array ``(..., n)`` and returns ``uint8 (..., n/block*type_size)``,
working through the rows in chunks (optionally on a thread pool: numpy releases the GIL).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import numpy as np

__all__ = ["quantize", "QUANTIZERS", "BLOCK", "row_bytes", "QK_K"]

QK_K = 256
_EPS = np.float32(1e-15)  # GROUP_MAX_EPS
F32 = np.float32

# name -> (block size, bytes per block)
BLOCK: dict[str, tuple[int, int]] = {
    "Q8_0": (32, 34), "Q4_0": (32, 18), "Q4_1": (32, 20), "Q5_0": (32, 22), "Q5_1": (32, 24),
    "Q2_K": (256, 84), "Q3_K": (256, 110), "Q4_K": (256, 144), "Q5_K": (256, 176),
    "Q6_K": (256, 210),
}


def row_bytes(qtype: str, n: int) -> int:
    bs, ts = BLOCK[qtype]
    return n // bs * ts


def _f16(x: np.ndarray) -> np.ndarray:
    """float32 -> the float16 the reference stores, as float32 again (its GGML_FP16_TO_FP32)."""
    return x.astype(np.float16).astype(F32)


def _f16_bytes(x: np.ndarray) -> np.ndarray:
    return x.astype(np.float16).view(np.uint8).reshape(-1, 2)


def _roundf(v: np.ndarray) -> np.ndarray:
    """C roundf: halves away from zero (np.rint would round them to even)."""
    a = np.abs(v)
    f = np.floor(a)
    f += (a - f) >= F32(0.5)
    return np.copysign(f, v)


def _inv(d: np.ndarray) -> np.ndarray:
    out = np.zeros_like(d)
    np.divide(F32(1), d, out=out, where=d != 0)
    return out


def _absmax_signed(x: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """(max |x|, the signed value that has it: the first one, as the reference's strict >)."""
    idx = np.abs(x).argmax(axis=axis)
    signed = np.take_along_axis(x, np.expand_dims(idx, axis), axis=axis).squeeze(axis)
    signed = signed + F32(0)  # the reference starts from +0.0: an all-zero block gives +0.0
    return np.abs(signed), signed


def _first_extremes(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row min and max as the reference's strict-comparison loops find them: where a row's
    extreme is zero, its sign is that of the first zero (np.min/np.max may pick either)."""
    mn, mx = x.min(axis=1), x.max(axis=1)
    for v, pick in ((mn, np.argmin), (mx, np.argmax)):
        z = np.nonzero(v == 0)[0]
        if z.size:
            v[z] = np.take_along_axis(x[z], pick(x[z], axis=1)[:, None], axis=1)[:, 0]
    return mn, mx


def _nibbles(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    return (lo.astype(np.uint8) & 15) | (hi.astype(np.uint8) << 4)


# --- legacy 32-value blocks ------------------------------------------------------------------

def _q8_0(x: np.ndarray) -> np.ndarray:
    amax = np.abs(x).max(axis=1)
    d = amax / F32(127)
    q = _roundf(x * _inv(d)[:, None]).astype(np.int8)
    return np.concatenate([_f16_bytes(d), q.view(np.uint8)], axis=1)


def _q4_0(x: np.ndarray) -> np.ndarray:
    _, mx = _absmax_signed(x, 1)
    d = mx / F32(-8)
    q = np.minimum(np.trunc(x * _inv(d)[:, None] + F32(8.5)), F32(15)).astype(np.uint8)
    return np.concatenate([_f16_bytes(d), _nibbles(q[:, :16], q[:, 16:])], axis=1)


def _q4_1(x: np.ndarray) -> np.ndarray:
    mn, mx = _first_extremes(x)
    d = (mx - mn) / F32(15)
    q = np.minimum(np.trunc((x - mn[:, None]) * _inv(d)[:, None] + F32(0.5)), F32(15))
    q = q.astype(np.uint8)
    return np.concatenate([_f16_bytes(d), _f16_bytes(mn), _nibbles(q[:, :16], q[:, 16:])], axis=1)


def _qh(q: np.ndarray) -> np.ndarray:
    """The fifth bits of 32 values as a little-endian uint32."""
    return np.packbits((q >> 4).astype(np.uint8), axis=1, bitorder="little")


def _q5_0(x: np.ndarray) -> np.ndarray:
    _, mx = _absmax_signed(x, 1)
    d = mx / F32(-16)
    q = np.minimum(np.trunc(x * _inv(d)[:, None] + F32(16.5)), F32(31)).astype(np.uint8)
    return np.concatenate([_f16_bytes(d), _qh(q), _nibbles(q[:, :16], q[:, 16:])], axis=1)


def _q5_1(x: np.ndarray) -> np.ndarray:
    mn, mx = _first_extremes(x)
    d = (mx - mn) / F32(31)
    q = np.minimum(np.trunc((x - mn[:, None]) * _inv(d)[:, None] + F32(0.5)), F32(31))
    q = q.astype(np.uint8)
    return np.concatenate([_f16_bytes(d), _f16_bytes(mn), _qh(q),
                           _nibbles(q[:, :16], q[:, 16:])], axis=1)


# --- K-quant helpers: columns are sub-blocks, rows are their elements ------------------------

def _sum(a: np.ndarray) -> np.ndarray:
    return a.sum(axis=0)  # row by row: the reference's sequential float32 sum


def _clip_rint(v: np.ndarray, lo: int, hi: int) -> np.ndarray:
    r = np.rint(v)
    np.maximum(r, F32(lo), out=r)
    np.minimum(r, F32(hi), out=r)
    return r


def _blend(L: np.ndarray, new: np.ndarray, cols: np.ndarray) -> None:
    """L[:, cols] = new[:, cols] for small-integer float arrays, by exact arithmetic (a masked
    copy over a broadcast mask is ~50x slower in numpy)."""
    t = new - L
    t *= cols.astype(F32)
    L += t


def _qkx2(x: np.ndarray, w: np.ndarray, nmax: int, rmin: float, rdelta: float, nstep: int,
          mad: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """make_qkx2_quants: the (scale, -min, levels) of each column, minimising weighted error.

    Written with in-place buffers: this search is most of a K-quant's time."""
    mn0 = np.minimum(x.min(axis=0), F32(0))
    mn = mn0.copy()
    flat = x.max(axis=0) == mn
    sum_w = _sum(w)
    t = w * x
    sum_x = _sum(t)
    span = x.max(axis=0) - mn
    xm = x - mn
    lv = np.empty_like(x)
    wl = np.empty_like(x)
    fmax = F32(nmax)
    mx = x.max(axis=0)
    moved = False

    def levels(iscale: np.ndarray) -> None:
        np.multiply(xm, iscale, out=lv)
        np.rint(lv, out=lv)
        np.minimum(lv, fmax, out=lv)
        if moved:  # x - min can be negative once min has moved up
            np.maximum(lv, F32(0), out=lv)

    def error(scale: np.ndarray, shift: np.ndarray) -> np.ndarray:
        np.multiply(scale, lv, out=t)
        np.add(t, shift, out=t)
        np.subtract(t, x, out=t)
        if mad:
            np.abs(t, out=t)
        else:
            np.multiply(t, t, out=t)
        np.multiply(w, t, out=t)
        return _sum(t)

    iscale = fmax / span
    scale = F32(1) / iscale
    levels(iscale)
    L = lv.copy()
    best = error(scale, mn)
    for step in range(nstep + 1):
        levels((F32(rmin) + F32(rdelta) * F32(step) + fmax) / span)
        np.multiply(w, lv, out=wl)
        sum_l = _sum(wl)
        np.multiply(wl, lv, out=t)
        sum_l2 = _sum(t)
        np.multiply(wl, x, out=t)
        sum_xl = _sum(t)
        D = sum_w * sum_l2 - sum_l * sum_l
        t_scale = (sum_w * sum_xl - sum_x * sum_l) / D
        t_min = (sum_l2 * sum_x - sum_l * sum_xl) / D
        pos = t_min > 0
        if pos.any():
            t_min[pos] = 0
            t_scale[pos] = (sum_xl / sum_l2)[pos]
        cur = error(t_scale, t_min)
        upd = (D > 0) & (cur < best)
        if upd.any():
            _blend(L, lv, upd)
            best[upd] = cur[upd]
            scale[upd] = t_scale[upd]
            mn[upd] = t_min[upd]
            # the reference keeps searching from the improved minimum: later steps use it
            moved = True
            span = mx - mn
            np.subtract(x, mn, out=xm)
    if flat.any():
        L[:, flat] = 0
        scale[flat] = 0
        mn[flat] = mn0[flat]
    return scale, -mn, L


def _qx(x: np.ndarray, nmax: int) -> tuple[np.ndarray, np.ndarray]:
    """make_qx_quants with rmse_type 1 (weights x²): (scale, levels + nmax) per column."""
    amax, mx = _absmax_signed(x, 0)
    zero = amax < _EPS
    w = x * x
    wx = w * x

    def levels(iscale: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        lv = _clip_rint(iscale * x, -nmax, nmax - 1)
        return lv, _sum(wx * lv), _sum(w * lv * lv)

    lv, sumlx, suml2 = levels(F32(-nmax) / mx)
    L = lv + F32(nmax)
    scale = np.where(suml2 != 0, sumlx / suml2, F32(0))
    best = scale * sumlx
    for step in range(-9, 10):
        if step == 0:
            continue
        lv, sumlx, suml2 = levels(-(F32(nmax) + F32(0.1) * F32(step)) / mx)
        upd = (suml2 > 0) & (sumlx * sumlx > best * suml2)
        if upd.any():
            _blend(L, lv + F32(nmax), upd)
            new = sumlx / suml2
            scale = np.where(upd, new, scale)
            best = np.where(upd, new * sumlx, best)
    if zero.any():
        L[:, zero] = 0
        scale[zero] = 0
    return scale, L


def _q3(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """make_q3_quants(nmax=4, do_rmse): (scale, levels + 4) per column; the element-wise
    refinement is sequential within a column, vectorised across columns."""
    nmax = 4
    amax, mx = _absmax_signed(x, 0)
    zero = amax < _EPS
    L = _clip_rint((F32(-nmax) / mx) * x, -nmax, nmax - 1)
    w = x * x
    wx = w * x
    sumlx = _sum(wx * L)
    suml2 = _sum(w * L * L)
    for _ in range(5):
        changed = np.zeros(x.shape[1], bool)
        for i in range(x.shape[0]):
            li, wi, wxi, xi = L[i], w[i], wx[i], x[i]
            slx = sumlx - wxi * li
            sl2 = suml2 - wi * li * li
            new = _clip_rint(xi * sl2 / slx, -nmax, nmax - 1)
            slx2 = slx + wxi * new
            sl22 = sl2 + wi * new * new
            ok = ((slx > 0) & (new != li) & (sl22 > 0)
                  & (slx2 * slx2 * suml2 > sumlx * sumlx * sl22))
            L[i] = np.where(ok, new, li)
            sumlx = np.where(ok, slx2, sumlx)
            suml2 = np.where(ok, sl22, suml2)
            changed |= ok
        if not changed.any():
            break
    scale = np.where(suml2 > 0, sumlx / suml2, F32(0))
    L = L + F32(nmax)
    if zero.any():
        L[:, zero] = 0
        scale[zero] = 0
    return scale, L


def _cols(x: np.ndarray, sub: int) -> np.ndarray:
    """(nb, 256) -> (sub, nb*256/sub): one column per sub-block."""
    return np.ascontiguousarray(x.reshape(-1, sub).T)


def _rows(L: np.ndarray, nb: int) -> np.ndarray:
    """Back from columns to (nb, 256) integer levels."""
    return L.T.reshape(nb, QK_K).astype(np.uint8)


def _pack2(L: np.ndarray) -> np.ndarray:
    """Four 2-bit values a byte: for each half of 128, byte l holds l, l+32, l+64, l+96."""
    q = L.reshape(-1, 2, 4, 32)
    out = q[:, :, 0] | (q[:, :, 1] << 2) | (q[:, :, 2] << 4) | (q[:, :, 3] << 6)
    return out.reshape(-1, 64)


def _scales_k4(ls: np.ndarray, lm: np.ndarray) -> np.ndarray:
    """Eight 6-bit scales and mins into the 12 bytes of Q4_K / Q5_K."""
    nb = ls.shape[0]
    out = np.zeros((nb, 12), np.uint8)
    out[:, 0:4] = ls[:, 0:4]
    out[:, 4:8] = lm[:, 0:4]
    out[:, 8:12] = (ls[:, 4:8] & 15) | ((lm[:, 4:8] & 15) << 4)
    out[:, 0:4] |= (ls[:, 4:8] >> 4) << 6
    out[:, 4:8] |= (lm[:, 4:8] >> 4) << 6
    return out


def _kx_common(x: np.ndarray, nmax: int, rmin: float, nstep: int
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Shared part of Q4_K / Q5_K: (d|dmin bytes, scale bytes, levels (nb,256), nb)."""
    nb = x.shape[0]
    xc = _cols(x, 32)
    av = np.sqrt(_sum(xc * xc) / F32(32))
    w = av + np.abs(xc)
    scales, mins, L = _qkx2(xc, w, nmax, rmin, 0.1, nstep, False)
    scales = scales.reshape(nb, 8)
    mins = mins.reshape(nb, 8)
    max_scale = np.maximum(scales.max(axis=1), F32(0))
    max_min = np.maximum(mins.max(axis=1), F32(0))
    inv_s = np.where(max_scale > 0, F32(63) / np.where(max_scale > 0, max_scale, F32(1)), F32(0))
    inv_m = np.where(max_min > 0, F32(63) / np.where(max_min > 0, max_min, F32(1)), F32(0))
    ls = np.minimum(np.rint(inv_s[:, None] * scales).astype(np.int64) & 255, 63).astype(np.uint8)
    lm = np.minimum(np.rint(inv_m[:, None] * mins).astype(np.int64) & 255, 63).astype(np.uint8)
    d = max_scale / F32(63)
    dmin = max_min / F32(63)
    dd = (_f16(d)[:, None] * ls).reshape(-1)  # per sub-block, in column order
    dm = (_f16(dmin)[:, None] * lm).reshape(-1)
    nz = dd != 0
    requant = _clip_rint((xc + dm) / np.where(nz, dd, F32(1)), 0, nmax)
    _blend(L, requant, nz)
    head = np.concatenate([_f16_bytes(d), _f16_bytes(dmin), _scales_k4(ls, lm)], axis=1)
    return head, _rows(L, nb), nb


def _q4_k(x: np.ndarray) -> np.ndarray:
    head, L, nb = _kx_common(x, 15, -1.0, 20)
    q = L.reshape(nb, 4, 2, 32)
    qs = (q[:, :, 0] | (q[:, :, 1] << 4)).reshape(nb, 128)
    return np.concatenate([head, qs], axis=1)


def _q5_k(x: np.ndarray) -> np.ndarray:
    head, L, nb = _kx_common(x, 31, -0.5, 15)
    q = L.reshape(nb, 4, 2, 32)
    lo = q & 15
    qs = (lo[:, :, 0] | (lo[:, :, 1] << 4)).reshape(nb, 128)
    hi = (q >> 4).astype(np.uint8)  # (nb, 4 chunks, 2 halves, 32)
    shifts = (np.arange(4)[:, None] * 2 + np.arange(2)[None, :]).astype(np.uint8)
    qh = np.bitwise_or.reduce((hi << shifts[None, :, :, None]).reshape(nb, 8, 32), axis=1)
    return np.concatenate([head, qh.astype(np.uint8), qs], axis=1)


def _q6_k(x: np.ndarray) -> np.ndarray:
    nb = x.shape[0]
    xc = _cols(x, 16)
    scales, L = _qx(xc, 32)
    scales = scales.reshape(nb, 16)
    amax, mx = _absmax_signed(scales, 1)
    zero = amax < _EPS
    iscale = np.where(zero, F32(1), F32(-128) / np.where(zero, F32(1), mx))
    d = np.where(zero, F32(0), F32(1) / iscale)
    sc = np.minimum(np.rint(iscale[:, None] * scales), F32(127)).astype(np.int8)
    sc[zero] = 0
    dd = (_f16(d)[:, None] * sc.astype(F32)).reshape(-1)
    nz = dd != 0
    requant = _clip_rint(xc / np.where(nz, dd, F32(1)), -32, 31) + F32(32)
    _blend(L, requant, nz)
    L = _rows(L, nb)
    L[zero] = 0
    q = L.reshape(nb, 2, 4, 32)
    lo = q & 15
    ql = np.stack([lo[:, :, 0] | (lo[:, :, 2] << 4), lo[:, :, 1] | (lo[:, :, 3] << 4)], axis=2)
    hi = q >> 4
    qh = hi[:, :, 0] | (hi[:, :, 1] << 2) | (hi[:, :, 2] << 4) | (hi[:, :, 3] << 6)
    dbytes = _f16_bytes(d)
    dbytes[zero] = 0
    return np.concatenate([ql.reshape(nb, 128), qh.reshape(nb, 64), sc.view(np.uint8),
                           dbytes], axis=1)


def _q3_k(x: np.ndarray) -> np.ndarray:
    nb = x.shape[0]
    xc = _cols(x, 16)
    scales, L = _q3(xc)
    scales = scales.reshape(nb, 16)
    _, mx = _absmax_signed(scales, 1)
    has = mx != 0
    iscale = F32(-32) / np.where(has, mx, F32(1))
    lq = (np.clip(np.rint(iscale[:, None] * scales), F32(-32), F32(31)) + F32(32))
    lq = np.where(has[:, None], lq, F32(0)).astype(np.uint8)
    sbytes = np.zeros((nb, 12), np.uint8)
    sbytes[:, 0:8] = (lq[:, 0:8] & 15) | ((lq[:, 8:16] & 15) << 4)
    hi = (lq >> 4).reshape(nb, 4, 4)  # [j // 4, j % 4]
    sbytes[:, 8:12] = hi[:, 0] | (hi[:, 1] << 2) | (hi[:, 2] << 4) | (hi[:, 3] << 6)
    d = np.where(has, F32(1) / iscale, F32(0))
    sc = np.where(has[:, None], lq.astype(F32) - F32(32), F32(0))
    dd = (_f16(d)[:, None] * sc).reshape(-1)
    nz = dd != 0
    requant = _clip_rint(xc / np.where(nz, dd, F32(1)), -4, 3) + F32(4)
    _blend(L, requant, nz)
    L = _rows(L, nb)
    high = L > 3
    hm = high.reshape(nb, 8, 32)  # bit b of hmask[m] is element 32*b + m
    hmask = np.packbits(hm.transpose(0, 2, 1), axis=2, bitorder="little").reshape(nb, 32)
    L = np.where(high, L - 4, L).astype(np.uint8)
    return np.concatenate([hmask, _pack2(L), sbytes, _f16_bytes(d)], axis=1)


def _q2_k(x: np.ndarray) -> np.ndarray:
    nb = x.shape[0]
    xc = _cols(x, 16)
    scales, mins, L = _qkx2(xc, np.abs(xc), 3, -0.5, 0.1, 15, True)
    scales = scales.reshape(nb, 16)
    mins = mins.reshape(nb, 16)
    max_scale = np.maximum(scales.max(axis=1), F32(0))
    max_min = np.maximum(mins.max(axis=1), F32(0))
    pos_s, pos_m = max_scale > 0, max_min > 0
    inv_s = F32(15) / np.where(pos_s, max_scale, F32(1))
    inv_m = F32(15) / np.where(pos_m, max_min, F32(1))
    ls = np.where(pos_s[:, None], np.rint(inv_s[:, None] * scales).astype(np.int64) & 255, 0)
    lm = np.where(pos_m[:, None], np.rint(inv_m[:, None] * mins).astype(np.int64) & 255, 0)
    sbytes = (ls | (lm << 4)).astype(np.uint8)
    d = np.where(pos_s, max_scale / F32(15), F32(0))
    dmin = np.where(pos_m, max_min / F32(15), F32(0))
    dd = (_f16(d)[:, None] * (sbytes & 15).astype(F32)).reshape(-1)
    dm = (_f16(dmin)[:, None] * (sbytes >> 4).astype(F32)).reshape(-1)
    nz = dd != 0
    requant = _clip_rint((xc + dm) / np.where(nz, dd, F32(1)), 0, 3)
    _blend(L, requant, nz)
    L = _rows(L, nb)
    return np.concatenate([sbytes, _pack2(L), _f16_bytes(d), _f16_bytes(dmin)], axis=1)


QUANTIZERS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "Q8_0": _q8_0, "Q4_0": _q4_0, "Q4_1": _q4_1, "Q5_0": _q5_0, "Q5_1": _q5_1,
    "Q2_K": _q2_k, "Q3_K": _q3_k, "Q4_K": _q4_k, "Q5_K": _q5_k, "Q6_K": _q6_k,
}

# elements per chunk: small enough for the temporaries to stay in cache
_CHUNK = {"Q8_0": 1 << 18, "Q4_0": 1 << 18, "Q4_1": 1 << 18, "Q5_0": 1 << 17,
          "Q5_1": 1 << 17}
_CHUNK_K = 1 << 16


def default_threads() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def quantize(a: np.ndarray, qtype: str, *, threads: int = 1,
             pool: ThreadPoolExecutor | None = None) -> np.ndarray:
    """Quantize ``a`` (float32 ``(..., n)``, ``n`` a multiple of the block size) to ``qtype``;
    returns ``uint8 (..., n // block * type_size)``."""
    fn = QUANTIZERS[qtype]
    bs, ts = BLOCK[qtype]
    n = a.shape[-1] if a.ndim else 1
    if n % bs:
        raise ValueError(f"{qtype}: row of {n} values is not a multiple of the block of {bs}")
    flat = np.ascontiguousarray(a, dtype=F32).reshape(-1, bs)
    nblocks = flat.shape[0]
    out = np.empty((nblocks, ts), np.uint8)
    step = max(1, _CHUNK.get(qtype, _CHUNK_K) // bs)
    spans = [(i, min(nblocks, i + step)) for i in range(0, nblocks, step)]

    def work(span: tuple[int, int]) -> None:
        i, j = span
        with np.errstate(all="ignore"):
            out[i:j] = fn(flat[i:j])

    # the legacy types are memory-bound numpy passes that threads only slow down (measured);
    # the K-quants' scale search is compute-bound and scales with threads
    heavy = bs == QK_K
    if heavy and (threads > 1 or pool is not None) and len(spans) > 1:
        if pool is not None:
            list(pool.map(work, spans))
        else:
            with ThreadPoolExecutor(threads) as ex:
                list(ex.map(work, spans))
    else:
        for s in spans:
            work(s)
    shape = a.shape[:-1] if a.ndim else ()
    return out.reshape(*shape, n // bs * ts)
