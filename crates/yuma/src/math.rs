//! Fixed-point vector and matrix helpers of the epoch, ported from subtensor's
//! `pallets/subtensor/src/epoch/math.rs` (dense variants).
//!
//! Every function keeps the chain's order of operations, its saturating arithmetic and its
//! `safe_div` convention (division by zero, or an overflowing quotient, yields 0), so results
//! are bit-identical to the chain for in-range inputs. The chain's `log::error!` branches for
//! mismatched shapes keep their fallback results but do not log (this crate does no I/O).
//!
//! One deliberate difference: where the chain sums with `Iterator::sum` (which overflows on
//! absurd inputs, e.g. more than 32 768 raw u16 weights of 65 535 in one row), [`sum`] saturates.

use substrate_fixed::transcendental::exp;
use substrate_fixed::types::{I32F32, I64F64};

/// Division that returns 0 when the divisor is zero or the quotient overflows
/// (subtensor `safe_math::FixedExt::safe_div`).
pub trait SafeDiv: Sized {
    /// `self / rhs`, or 0 when that is undefined or does not fit.
    fn safe_div(self, rhs: Self) -> Self;
}

impl SafeDiv for I32F32 {
    #[inline]
    fn safe_div(self, rhs: Self) -> Self {
        let (a, b) = (self.to_bits(), rhs.to_bits());
        // Fast path, bit-identical to `checked_div` (which divides `a << 32` by `b` in i128,
        // truncating, and fails when the quotient does not fit an i64): for a >= 0 and b > 0,
        // drop the power of two both share (it cancels in the quotient; whole numbers such as
        // raw u16 bonds and their column sums share 2^32); then if a < 2^32, both operands of
        // `(a << 32) / b` fit a u64 and one hardware u64 division gives the same quotient.
        if a >= 0 && b > 0 {
            let shared = (a | b).trailing_zeros();
            let (a, b) = (a.unsigned_abs() >> shared, b.unsigned_abs() >> shared);
            if a < 1 << 32 {
                return i64::try_from((a << 32) / b).map_or_else(|_| zero(), I32F32::from_bits);
            }
        }
        self.checked_div(rhs).unwrap_or_default()
    }
}

impl SafeDiv for I64F64 {
    fn safe_div(self, rhs: Self) -> Self {
        self.checked_div(rhs).unwrap_or_default()
    }
}

fn zero() -> I32F32 {
    I32F32::from_bits(0)
}

fn one() -> I32F32 {
    I32F32::from_num(1)
}

fn u16_max() -> I32F32 {
    I32F32::saturating_from_num(u16::MAX)
}

fn get_safe(slice: &[I32F32], idx: usize) -> I32F32 {
    slice.get(idx).copied().unwrap_or_default()
}

/// Chain `fixed`: an I32F32 from an f32.
pub fn fixed(val: f32) -> I32F32 {
    I32F32::saturating_from_num(val)
}

/// Chain `fixed_to_u16`: truncating, saturating conversion.
pub fn fixed_to_u16(x: I32F32) -> u16 {
    x.saturating_to_num::<u16>()
}

/// Chain `fixed_to_u64`.
pub fn fixed_to_u64(x: I32F32) -> u64 {
    x.saturating_to_num::<u64>()
}

/// Chain `fixed64_to_u64`.
pub fn fixed64_to_u64(x: I64F64) -> u64 {
    x.saturating_to_num::<u64>()
}

/// Chain `fixed64_to_fixed32`.
pub fn fixed64_to_fixed32(x: I64F64) -> I32F32 {
    I32F32::saturating_from_num(x)
}

/// Chain `u16_to_fixed`: the raw value, not a proportion.
pub fn u16_to_fixed(x: u16) -> I32F32 {
    I32F32::saturating_from_num(x)
}

/// Chain `u16_proportion_to_fixed`: `x / 65535`.
pub fn u16_proportion_to_fixed(x: u16) -> I32F32 {
    I32F32::saturating_from_num(x).safe_div(u16_max())
}

/// Chain `fixed_to_fixed_u16_proportion`: `x / 65535`.
pub fn fixed_to_fixed_u16_proportion(x: I32F32) -> I32F32 {
    x.safe_div(u16_max())
}

/// Chain `fixed_proportion_to_u16`: `(x * 65535)` truncated; the stored form of proportions.
pub fn fixed_proportion_to_u16(x: I32F32) -> u16 {
    fixed_to_u16(x.saturating_mul(u16_max()))
}

/// Chain `vec_fixed_proportions_to_u16`.
pub fn vec_fixed_proportions_to_u16(vec: &[I32F32]) -> Vec<u16> {
    vec.iter().copied().map(fixed_proportion_to_u16).collect()
}

/// Chain `vec_max_upscale_to_u16`: rescale so the maximum becomes 65535, rounding half away
/// from zero. The operation order differs above and below a maximum of 32768 to avoid overflow.
pub fn vec_max_upscale_to_u16(vec: &[I32F32]) -> Vec<u16> {
    let threshold = I32F32::saturating_from_num(32768);
    match vec.iter().max() {
        Some(val) => {
            let val = *val;
            if val == zero() {
                return vec.iter().map(|e| e.saturating_mul(u16_max()).saturating_to_num::<u16>()).collect();
            }
            if val > threshold {
                return vec
                    .iter()
                    .map(|e| e.saturating_mul(u16_max().safe_div(val)).saturating_round().saturating_to_num::<u16>())
                    .collect();
            }
            vec.iter()
                .map(|e| e.saturating_mul(u16_max()).safe_div(val).saturating_round().saturating_to_num::<u16>())
                .collect()
        }
        None => Vec::new(),
    }
}

/// Chain `vec_u16_max_upscale_to_u16`: what `set_weights` stores for a weight vector.
pub fn vec_u16_max_upscale_to_u16(vec: &[u16]) -> Vec<u16> {
    let vec_fixed: Vec<I32F32> = vec.iter().map(|e| I32F32::saturating_from_num(*e)).collect();
    vec_max_upscale_to_u16(&vec_fixed)
}

/// Chain `check_vec_max_limited`: whether the normalized vector's maximum is at most
/// `max_limit / 65535` (the `MaxWeightsLimit` check).
pub fn check_vec_max_limited(vec: &[u16], max_limit: u16) -> bool {
    let max_limit_fixed = I32F32::saturating_from_num(max_limit).safe_div(u16_max());
    let mut vec_fixed: Vec<I32F32> = vec.iter().map(|e| I32F32::saturating_from_num(*e)).collect();
    inplace_normalize(&mut vec_fixed);
    vec_fixed.iter().max().is_none_or(|v| *v <= max_limit_fixed)
}

/// Chain `sum`, saturating instead of overflowing.
pub fn sum(x: &[I32F32]) -> I32F32 {
    x.iter().fold(zero(), |acc, v| acc.saturating_add(*v))
}

fn sum_64(x: &[I64F64]) -> I64F64 {
    x.iter().fold(I64F64::from_bits(0), |acc, v| acc.saturating_add(*v))
}

/// Chain `is_zero`: whether the vector sums to zero.
pub fn is_zero(vector: &[I32F32]) -> bool {
    sum(vector) == zero()
}

/// Chain `exp_safe`: `exp` with the input clamped to [-20, 20].
pub fn exp_safe(input: I32F32) -> I32F32 {
    let min_input = I32F32::saturating_from_num(-20);
    let max_input = I32F32::saturating_from_num(20);
    let safe_input = if input < min_input {
        min_input
    } else if max_input < input {
        max_input
    } else {
        input
    };
    match exp::<I32F32, I32F32>(safe_input) {
        Ok(val) => val,
        Err(()) => {
            if safe_input <= zero() {
                zero()
            } else {
                I32F32::max_value()
            }
        }
    }
}

/// Chain `sigmoid_safe`: `1 / (1 + exp(-rho * (input - kappa)))`.
pub fn sigmoid_safe(input: I32F32, rho: I32F32, kappa: I32F32) -> I32F32 {
    let offset = input.saturating_sub(kappa);
    let neg_rho = rho.saturating_mul(one().saturating_neg());
    let exp_output = exp_safe(neg_rho.saturating_mul(offset));
    one().safe_div(exp_output.saturating_add(one()))
}

/// Chain `is_topk`: true for the k largest entries (ascending stable sort, so among equal
/// values the lower index loses).
pub fn is_topk(vector: &[I32F32], k: usize) -> Vec<bool> {
    let n = vector.len();
    let mut result = vec![true; n];
    if n < k {
        return result;
    }
    let mut idxs: Vec<usize> = (0..n).collect();
    idxs.sort_by_key(|&idx| get_safe(vector, idx));
    for &idx in idxs.iter().take(n.saturating_sub(k)) {
        if let Some(cell) = result.get_mut(idx) {
            *cell = false;
        }
    }
    result
}

/// Chain `is_topk_nonzero`: like [`is_topk`] but zero entries are never selected. This is how
/// validator permits are assigned.
pub fn is_topk_nonzero(vector: &[I32F32], k: usize) -> Vec<bool> {
    let n = vector.len();
    let mut result: Vec<bool> = vector.iter().map(|&elem| elem != zero()).collect();
    if n < k {
        return result;
    }
    let mut idxs: Vec<usize> = (0..n).collect();
    idxs.sort_by_key(|&idx| get_safe(vector, idx));
    for &idx in idxs.iter().take(n.saturating_sub(k)) {
        if let Some(cell) = result.get_mut(idx) {
            *cell = false;
        }
    }
    result
}

/// Chain `normalize`: a copy that sums to 1 (unchanged when the sum is 0).
pub fn normalize(x: &[I32F32]) -> Vec<I32F32> {
    let x_sum = sum(x);
    if x_sum != zero() { x.iter().map(|xi| xi.safe_div(x_sum)).collect() } else { x.to_vec() }
}

/// Chain `inplace_normalize`.
pub fn inplace_normalize(x: &mut [I32F32]) {
    let x_sum = sum(x);
    if x_sum == zero() {
        return;
    }
    x.iter_mut().for_each(|value| *value = value.safe_div(x_sum));
}

/// Chain `inplace_normalize_using_sum`.
pub fn inplace_normalize_using_sum(x: &mut [I32F32], x_sum: I32F32) {
    if x_sum == zero() {
        return;
    }
    x.iter_mut().for_each(|value| *value = value.safe_div(x_sum));
}

/// Chain `inplace_normalize_64` (I64F64, used for stake).
pub fn inplace_normalize_64(x: &mut [I64F64]) {
    let x_sum = sum_64(x);
    if x_sum == I64F64::from_bits(0) {
        return;
    }
    x.iter_mut().for_each(|value| *value = value.safe_div(x_sum));
}

/// Chain `inplace_row_normalize`: each row with a positive sum is scaled to sum 1.
pub fn inplace_row_normalize(x: &mut [Vec<I32F32>]) {
    for row in x {
        let row_sum = sum(row);
        if row_sum > zero() {
            row.iter_mut().for_each(|x_ij| *x_ij = x_ij.safe_div(row_sum));
        }
    }
}

/// Chain `row_sum`.
pub fn row_sum(x: &[Vec<I32F32>]) -> Vec<I32F32> {
    if x.first().is_some_and(|r| r.is_empty()) {
        return Vec::new();
    }
    x.iter().map(|row| sum(row)).collect()
}

/// Chain `inplace_col_normalize`: each column with a non-zero sum is scaled to sum 1.
pub fn inplace_col_normalize(x: &mut [Vec<I32F32>]) {
    let mut col_sums: Vec<I32F32> = Vec::new();
    for row in x.iter() {
        if col_sums.len() < row.len() {
            col_sums.resize(row.len(), zero());
        }
        for (sum, v) in col_sums.iter_mut().zip(row.iter()) {
            *sum = sum.saturating_add(*v);
        }
    }
    if col_sums.is_empty() {
        return;
    }
    for row in x.iter_mut() {
        for (m, sum) in row.iter_mut().zip(col_sums.iter()) {
            if *sum != zero() {
                *m = m.safe_div(*sum);
            }
        }
    }
}

/// Chain `inplace_col_max_upscale`: each column is divided by its maximum.
pub fn inplace_col_max_upscale(x: &mut [Vec<I32F32>]) {
    let max_cols = x.iter().map(|r| r.len()).max().unwrap_or(0);
    if max_cols == 0 {
        return;
    }
    let mut col_maxes = vec![zero(); max_cols];
    for row in x.iter() {
        for (m, v) in col_maxes.iter_mut().zip(row.iter()) {
            if *m < *v {
                *m = *v;
            }
        }
    }
    for row in x.iter_mut() {
        for (val, m) in row.iter_mut().zip(col_maxes.iter()) {
            if *m != zero() {
                *val = val.safe_div(*m);
            }
        }
    }
}

/// Chain `inplace_mask_vector`: `mask[i] == true` zeroes entry i (a missing mask entry masks).
pub fn inplace_mask_vector(mask: &[bool], vector: &mut [I32F32]) {
    if mask.is_empty() {
        return;
    }
    for (i, v) in vector.iter_mut().enumerate() {
        if mask.get(i).copied().unwrap_or(true) {
            *v = zero();
        }
    }
}

/// Chain `inplace_mask_matrix`: `mask[i][j] == true` zeroes entry (i, j).
pub fn inplace_mask_matrix(mask: &[Vec<bool>], matrix: &mut [Vec<I32F32>]) {
    let Some(first_row) = mask.first() else {
        return;
    };
    if first_row.is_empty() {
        return;
    }
    for (r, row) in matrix.iter_mut().enumerate() {
        let mask_row = mask.get(r);
        for (c, val) in row.iter_mut().enumerate() {
            if mask_row.and_then(|mr| mr.get(c)).copied().unwrap_or(true) {
                *val = zero();
            }
        }
    }
}

/// Chain `inplace_mask_rows`: `mask[i] == true` zeroes row i.
pub fn inplace_mask_rows(mask: &[bool], matrix: &mut [Vec<I32F32>]) {
    let Some(first_row) = matrix.first() else {
        return;
    };
    let cols = first_row.len();
    for (r, row) in matrix.iter_mut().enumerate() {
        if mask.get(r).copied().unwrap_or(true) {
            *row = vec![zero(); cols];
        }
    }
}

/// Chain `inplace_mask_cols`: `mask[j] == true` zeroes column j.
pub fn inplace_mask_cols(mask: &[bool], matrix: &mut [Vec<I32F32>]) {
    for row in matrix.iter_mut() {
        for (c, elem) in row.iter_mut().enumerate() {
            if mask.get(c).copied().unwrap_or(true) {
                *elem = zero();
            }
        }
    }
}

/// Chain `inplace_mask_diag`: zero the diagonal of a square matrix (non-square: unchanged).
pub fn inplace_mask_diag(matrix: &mut [Vec<I32F32>]) {
    let Some(first_row) = matrix.first() else {
        return;
    };
    if first_row.is_empty() || matrix.len() != first_row.len() {
        return;
    }
    for (idx, row) in matrix.iter_mut().enumerate() {
        if let Some(elem) = row.get_mut(idx) {
            *elem = zero();
        }
    }
}

/// Chain `inplace_mask_diag_except_index`: zero the diagonal except at `except_index`.
pub fn inplace_mask_diag_except_index(matrix: &mut [Vec<I32F32>], except_index: u16) {
    let Some(first_row) = matrix.first() else {
        return;
    };
    if first_row.is_empty() || matrix.len() != first_row.len() {
        return;
    }
    let idx = usize::from(except_index);
    let kept = matrix.get(idx).and_then(|row| row.get(idx)).copied();
    inplace_mask_diag(matrix);
    if let (Some(kept), Some(cell)) = (kept, matrix.get_mut(idx).and_then(|row| row.get_mut(idx))) {
        *cell = kept;
    }
}

/// Chain `row_hadamard`: `out_ij = vector_i * matrix_ij`.
pub fn row_hadamard(matrix: &[Vec<I32F32>], vector: &[I32F32]) -> Vec<Vec<I32F32>> {
    if matrix.first().is_none_or(|r| r.is_empty()) {
        return vec![vec![]];
    }
    matrix
        .iter()
        .zip(vector.iter())
        .map(|(row, &scale)| row.iter().map(|m| scale.saturating_mul(*m)).collect())
        .collect()
}

/// Chain `matmul`: `result_j = Σ_i vector_i * matrix_ij` (column sums weighted by rows).
pub fn matmul(matrix: &[Vec<I32F32>], vector: &[I32F32]) -> Vec<I32F32> {
    let Some(first_row) = matrix.first() else {
        return Vec::new();
    };
    let cols = first_row.len();
    if cols == 0 {
        return Vec::new();
    }
    let mut acc = vec![zero(); cols];
    for (i, row) in matrix.iter().enumerate() {
        let scale = get_safe(vector, i);
        for (a, m) in acc.iter_mut().zip(row.iter()) {
            *a = a.saturating_add(scale.saturating_mul(*m));
        }
    }
    acc
}

/// Chain `matmul_transpose`: `result_i = Σ_j vector_j * matrix_ij`.
pub fn matmul_transpose(matrix: &[Vec<I32F32>], vector: &[I32F32]) -> Vec<I32F32> {
    if matrix.first().is_none_or(|r| r.is_empty()) {
        return Vec::new();
    }
    matrix
        .iter()
        .map(|row| row.iter().zip(vector.iter()).fold(zero(), |s, (m, v)| s.saturating_add(m.saturating_mul(*v))))
        .collect()
}

/// Chain `inplace_col_clip`: `x_ij = min(x_ij, threshold_j)`.
pub fn inplace_col_clip(x: &mut [Vec<I32F32>], col_threshold: &[I32F32]) {
    for row in x.iter_mut() {
        for (value, th) in row.iter_mut().zip(col_threshold.iter()) {
            *value = (*th).min(*value);
        }
    }
}

/// Chain `weighted_median`: stake-weighted median by a deterministic mid-pivot partition.
///
/// `minority = Σ stake - majority`; returns (about) the largest score `s` such that the stake
/// scoring at least `s` exceeds the majority. `partition_lo`/`partition_hi` bound the stake
/// integral of the current partition.
pub fn weighted_median(
    stake: &[I32F32],
    score: &[I32F32],
    partition_idx: &[usize],
    minority: I32F32,
    partition_lo: I32F32,
    partition_hi: I32F32,
) -> I32F32 {
    if stake.len() != score.len() {
        return zero();
    }
    let mut buffers = MedianBuffers::default();
    buffers.current.extend(partition_idx.iter().map(|&idx| (get_safe(score, idx), get_safe(stake, idx))));
    weighted_median_in(minority, partition_lo, partition_hi, &mut buffers)
}

/// Scratch space of [`weighted_median`], reused across the columns of [`weighted_median_col`]:
/// (score, stake) pairs of the current partition and its lower and upper parts, in the order
/// the chain visits their indices.
#[derive(Default)]
struct MedianBuffers {
    current: Vec<(I32F32, I32F32)>,
    lower: Vec<(I32F32, I32F32)>,
    upper: Vec<(I32F32, I32F32)>,
}

/// [`weighted_median`] over the (score, stake) pairs in `buffers.current` (consumed).
fn weighted_median_in(
    minority: I32F32,
    mut partition_lo: I32F32,
    mut partition_hi: I32F32,
    buffers: &mut MedianBuffers,
) -> I32F32 {
    let MedianBuffers { current, lower, upper } = buffers;
    lower.clear();
    upper.clear();
    let mut iteration_counter: usize = 0;
    let iteration_limit = current.len();
    loop {
        let n = current.len();
        if n == 0 {
            return zero();
        }
        if n == 1 {
            return current.first().map_or(zero(), |&(score, _)| score);
        }
        let pivot = current.get(n / 2).map_or(zero(), |&(score, _)| score);
        let mut lo_stake = zero();
        let mut hi_stake = zero();
        for &(s, st) in current.iter() {
            if s == pivot {
                continue;
            }
            if s < pivot {
                lo_stake = lo_stake.saturating_add(st);
                lower.push((s, st));
            } else {
                hi_stake = hi_stake.saturating_add(st);
                upper.push((s, st));
            }
        }
        if minority < partition_lo.saturating_add(lo_stake) && !lower.is_empty() {
            std::mem::swap(current, lower);
            partition_hi = partition_lo.saturating_add(lo_stake);
        } else if partition_hi.saturating_sub(hi_stake) <= minority && !upper.is_empty() {
            std::mem::swap(current, upper);
            partition_lo = partition_hi.saturating_sub(hi_stake);
        } else {
            return pivot;
        }
        lower.clear();
        upper.clear();
        iteration_counter = iteration_counter.saturating_add(1);
        if iteration_counter > iteration_limit {
            return zero();
        }
    }
}

/// Chain `weighted_median_col`: per column, the stake-weighted median over the rows with
/// positive stake (their stake renormalized), with `majority` = kappa.
///
/// The voting rows and their renormalized stake are the same for every column, so they are
/// computed once (the chain recomputes them per column, with the same result), and the
/// median's scratch buffers are reused across columns.
pub fn weighted_median_col(stake: &[I32F32], score: &[Vec<I32F32>], majority: I32F32) -> Vec<I32F32> {
    let columns = score.first().map_or(0, |r| r.len());
    let mut median = vec![zero(); columns];
    let mut use_stake: Vec<I32F32> = Vec::new();
    let mut use_rows: Vec<Option<&[I32F32]>> = Vec::new();
    for (r, &st) in stake.iter().enumerate() {
        if st > zero() {
            match score.get(r) {
                Some(row) if row.len() == columns => {
                    use_stake.push(st);
                    use_rows.push(Some(row));
                }
                _ => {
                    use_stake.push(zero());
                    use_rows.push(None);
                }
            }
        }
    }
    if use_stake.is_empty() {
        return median;
    }
    inplace_normalize(&mut use_stake);
    let stake_sum = sum(&use_stake);
    let minority = stake_sum.saturating_sub(majority);
    let mut buffers = MedianBuffers::default();
    for (c, med_cell) in median.iter_mut().enumerate() {
        buffers.current.clear();
        buffers
            .current
            .extend(use_rows.iter().zip(&use_stake).map(|(row, &st)| (row.map_or(zero(), |row| get_safe(row, c)), st)));
        *med_cell = weighted_median_in(minority, zero(), stake_sum, &mut buffers);
    }
    median
}

/// Chain `interpolate`: `mat1 + ratio * (mat2 - mat1)` element-wise.
pub fn interpolate(mat1: &[Vec<I32F32>], mat2: &[Vec<I32F32>], ratio: I32F32) -> Vec<Vec<I32F32>> {
    if ratio == zero() {
        return mat1.to_vec();
    }
    if ratio == one() {
        return mat2.to_vec();
    }
    let Some(first) = mat1.first() else {
        return vec![vec![]];
    };
    if first.is_empty() {
        return vec![vec![]];
    }
    let cols = first.len();
    let mut result: Vec<Vec<I32F32>> = mat1.iter().map(|_| vec![zero(); cols]).collect();
    for ((row1, row2), out_row) in mat1.iter().zip(mat2.iter()).zip(result.iter_mut()) {
        for ((v1, v2), out) in row1.iter().zip(row2.iter()).zip(out_row.iter_mut()) {
            *out = v1.saturating_add(ratio.saturating_mul(v2.saturating_sub(*v1)));
        }
    }
    result
}

/// Chain `vec_mul`: element-wise product (an overflowing product becomes 0).
pub fn vec_mul(a: &[I32F32], b: &[I32F32]) -> Vec<I32F32> {
    a.iter().zip(b.iter()).map(|(x, y)| x.checked_mul(*y).unwrap_or_default()).collect()
}

/// Chain `mat_vec_mul`: `out_ij = matrix_ij * vector_j`.
pub fn mat_vec_mul(matrix: &[Vec<I32F32>], vector: &[I32F32]) -> Vec<Vec<I32F32>> {
    if matrix.first().is_none_or(|r| r.is_empty()) {
        return vec![vec![]];
    }
    matrix.iter().map(|row| vec_mul(row, vector)).collect()
}

/// Chain `clamp_value`: `max(min(value, high), low)`.
pub fn clamp_value(value: I32F32, low: I32F32, high: I32F32) -> I32F32 {
    value.min(high).max(low)
}

/// Chain `mat_ema`: `alpha * new + (1 - alpha) * old` element-wise.
pub fn mat_ema(new: &[Vec<I32F32>], old: &[Vec<I32F32>], alpha: I32F32) -> Vec<Vec<I32F32>> {
    if new.first().is_none_or(|r| r.is_empty()) {
        return vec![vec![]];
    }
    let one_minus_alpha = one().saturating_sub(alpha);
    new.iter()
        .zip(old.iter())
        .map(|(nrow, orow)| {
            nrow.iter()
                .zip(orow.iter())
                .map(|(n, o)| alpha.saturating_mul(*n).saturating_add(one_minus_alpha.saturating_mul(*o)))
                .collect()
        })
        .collect()
}

/// Chain `mat_ema_alpha`: `min((1 - alpha_ij) * old_ij + max(alpha_ij * new_ij, 0), 1)`.
/// Shape mismatches return `old` (outer) or `new` (rows), as on chain.
pub fn mat_ema_alpha(new: &[Vec<I32F32>], old: &[Vec<I32F32>], alpha: &[Vec<I32F32>]) -> Vec<Vec<I32F32>> {
    if new.first().is_none_or(|r| r.is_empty()) {
        return vec![vec![]];
    }
    if new.len() != old.len() || new.len() != alpha.len() {
        return old.to_vec();
    }
    for ((nrow, orow), arow) in new.iter().zip(old.iter()).zip(alpha.iter()) {
        if nrow.len() != orow.len() || nrow.len() != arow.len() {
            return new.to_vec();
        }
    }
    new.iter()
        .zip(old.iter())
        .zip(alpha.iter())
        .map(|((nrow, orow), arow)| {
            nrow.iter()
                .zip(orow.iter())
                .zip(arow.iter())
                .map(|((n, o), a)| {
                    let decayed = one().saturating_sub(*a).saturating_mul(*o);
                    let inc = a.saturating_mul(*n).max(zero());
                    decayed.saturating_add(inc).min(one())
                })
                .collect()
        })
        .collect()
}

/// Chain `mat_ema_alpha_sparse` as seen on dense data: like [`mat_ema_alpha`], except that an
/// entry whose `new` value is absent (zero) is dropped instead of decayed. This is what the
/// on-chain (sparse) epoch does to Yuma 3 bonds under liquid alpha.
pub fn mat_ema_alpha_drop_absent(new: &[Vec<I32F32>], old: &[Vec<I32F32>], alpha: &[Vec<I32F32>]) -> Vec<Vec<I32F32>> {
    if new.len() != old.len() || new.len() != alpha.len() {
        return new.to_vec();
    }
    new.iter()
        .zip(old.iter())
        .zip(alpha.iter())
        .map(|((nrow, orow), arow)| {
            nrow.iter()
                .enumerate()
                .map(|(j, n)| {
                    let (Some(a), Some(o)) = (arow.get(j), orow.get(j)) else {
                        return zero();
                    };
                    if *n == zero() {
                        return zero();
                    }
                    let decayed = one().saturating_sub(*a).saturating_mul(*o);
                    let inc = a.saturating_mul(*n).max(zero());
                    decayed.saturating_add(inc).min(one())
                })
                .collect()
        })
        .collect()
}

/// Chain `Pallet::alpha_sigmoid` (run_epoch.rs): the liquid alpha of one validator-miner bond.
///
/// `d = clamp(w - c, 0, 1)` when `w >= b` (buying), else `clamp(b - w, 0, 1)` (selling);
/// `alpha = clamp(low + sigmoid(steepness/100 * (d - 0.5)) * (high - low), low, high)`.
pub fn alpha_sigmoid(
    consensus: I32F32,
    weight: I32F32,
    bond: I32F32,
    alpha_low: I32F32,
    alpha_high: I32F32,
    alpha_sigmoid_steepness: I32F32,
) -> I32F32 {
    let diff_buy = clamp_value(weight.saturating_sub(consensus), zero(), one());
    let diff_sell = clamp_value(bond.saturating_sub(weight), zero(), one());
    let combined_diff = if weight >= bond { diff_buy } else { diff_sell };
    let sigmoid = one().saturating_div(
        one().saturating_add(exp_safe(
            alpha_sigmoid_steepness
                .saturating_div(I32F32::from_num(-100))
                .saturating_mul(combined_diff.saturating_sub(I32F32::from_num(0.5))),
        )),
    );
    let alpha = alpha_low.saturating_add(sigmoid.saturating_mul(alpha_high.saturating_sub(alpha_low)));
    clamp_value(alpha, alpha_low, alpha_high)
}

/// Chain `Pallet::compute_liquid_alpha_values`: the matrix of [`alpha_sigmoid`] values.
pub fn compute_liquid_alpha_values(
    weights: &[Vec<I32F32>],
    bonds: &[Vec<I32F32>],
    consensus: &[I32F32],
    alpha_low: I32F32,
    alpha_high: I32F32,
    alpha_sigmoid_steepness: I32F32,
) -> Vec<Vec<I32F32>> {
    if weights.len() != bonds.len() {
        return Vec::new();
    }
    weights
        .iter()
        .zip(bonds.iter())
        .map(|(w_row, b_row)| {
            w_row
                .iter()
                .zip(b_row.iter())
                .zip(consensus.iter())
                .map(|((w, b), c)| alpha_sigmoid(*c, *w, *b, alpha_low, alpha_high, alpha_sigmoid_steepness))
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    //! The optimized helpers against the verbatim previous (chain-shaped) code, bit for bit.
    use proptest::prelude::*;
    use substrate_fixed::types::I32F32;

    use super::*;

    /// The previous `safe_div`: `checked_div`, 0 on failure.
    fn safe_div_reference(a: I32F32, b: I32F32) -> I32F32 {
        a.checked_div(b).unwrap_or_default()
    }

    /// Chain `weighted_median`: stake-weighted median by a deterministic mid-pivot partition.
    ///
    /// `minority = Σ stake - majority`; returns (about) the largest score `s` such that the stake
    /// scoring at least `s` exceeds the majority. `partition_lo`/`partition_hi` bound the stake
    /// integral of the current partition.
    pub fn weighted_median_reference(
        stake: &[I32F32],
        score: &[I32F32],
        partition_idx: &[usize],
        minority: I32F32,
        mut partition_lo: I32F32,
        mut partition_hi: I32F32,
    ) -> I32F32 {
        if stake.len() != score.len() {
            return zero();
        }
        let mut current: Vec<usize> = partition_idx.to_vec();
        let mut iteration_counter: usize = 0;
        let iteration_limit = partition_idx.len();
        let mut lower: Vec<usize> = Vec::new();
        let mut upper: Vec<usize> = Vec::new();
        loop {
            let n = current.len();
            if n == 0 {
                return zero();
            }
            if n == 1 {
                return current.first().map_or(zero(), |&only| get_safe(score, only));
            }
            let mid_idx = n / 2;
            let pivot = get_safe(score, current.get(mid_idx).copied().unwrap_or(0));
            let mut lo_stake = zero();
            let mut hi_stake = zero();
            for &idx in &current {
                let s = get_safe(score, idx);
                if s == pivot {
                    continue;
                }
                if s < pivot {
                    lo_stake = lo_stake.saturating_add(get_safe(stake, idx));
                    lower.push(idx);
                } else {
                    hi_stake = hi_stake.saturating_add(get_safe(stake, idx));
                    upper.push(idx);
                }
            }
            if minority < partition_lo.saturating_add(lo_stake) && !lower.is_empty() {
                current = std::mem::take(&mut lower);
                partition_hi = partition_lo.saturating_add(lo_stake);
            } else if partition_hi.saturating_sub(hi_stake) <= minority && !upper.is_empty() {
                current = std::mem::take(&mut upper);
                partition_lo = partition_hi.saturating_sub(hi_stake);
            } else {
                return pivot;
            }
            lower.clear();
            upper.clear();
            iteration_counter = iteration_counter.saturating_add(1);
            if iteration_counter > iteration_limit {
                return zero();
            }
        }
    }

    /// Chain `weighted_median_col`: per column, the stake-weighted median over the rows with
    /// positive stake (their stake renormalized), with `majority` = kappa.
    pub fn weighted_median_col_reference(stake: &[I32F32], score: &[Vec<I32F32>], majority: I32F32) -> Vec<I32F32> {
        let columns = score.first().map_or(0, |r| r.len());
        let mut median = vec![zero(); columns];
        for (c, med_cell) in median.iter_mut().enumerate() {
            let mut use_stake: Vec<I32F32> = Vec::new();
            let mut use_score: Vec<I32F32> = Vec::new();
            for (r, &st) in stake.iter().enumerate() {
                if st > zero() {
                    match score.get(r) {
                        Some(row) if row.len() == columns => {
                            use_stake.push(st);
                            use_score.push(get_safe(row, c));
                        }
                        _ => {
                            use_stake.push(zero());
                            use_score.push(zero());
                        }
                    }
                }
            }
            if !use_stake.is_empty() {
                inplace_normalize(&mut use_stake);
                let stake_sum = sum(&use_stake);
                let minority = stake_sum.saturating_sub(majority);
                let idxs: Vec<usize> = (0..use_stake.len()).collect();
                *med_cell = weighted_median_reference(&use_stake, &use_score, &idxs, minority, zero(), stake_sum);
            }
        }
        median
    }

    fn bits() -> impl Strategy<Value = i64> {
        prop_oneof![
            Just(0i64),
            Just(1),
            Just(-1),
            Just(i64::MAX),
            Just(i64::MIN),
            Just(1 << 32),
            Just((1 << 32) - 1),
            Just(1 << 31),
            0i64..=1 << 33,
            (0i64..=1 << 31).prop_map(|x| x << 32),
            (0i64..1 << 20, 0u32..44).prop_map(|(x, s)| x << s),
            any::<i64>(),
        ]
    }

    fn proportion() -> impl Strategy<Value = I32F32> {
        prop_oneof![Just(0i64), Just(1 << 32), 0i64..=1 << 32, 0i64..=1 << 20, (0i64..4).prop_map(|x| x << 30)]
            .prop_map(I32F32::from_bits)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 20_000, ..ProptestConfig::default() })]

        #[test]
        fn safe_div_equals_checked_div(a in bits(), b in bits()) {
            let (a, b) = (I32F32::from_bits(a), I32F32::from_bits(b));
            prop_assert_eq!(a.safe_div(b), safe_div_reference(a, b));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

        #[test]
        fn weighted_median_col_equals_reference(
            rows in 0usize..12,
            cols in 0usize..10,
            seed in prop::collection::vec((proportion(), prop_oneof![Just(0i64), 0i64..=1 << 32]), 0..120),
            ragged in any::<bool>(),
            majority in proportion(),
        ) {
            let mut it = seed.iter().cycle();
            let mut stake = Vec::new();
            let mut score = Vec::new();
            for r in 0..rows {
                let (_, s) = it.next().copied().unwrap_or((I32F32::from_bits(0), 0));
                stake.push(I32F32::from_bits(s));
                let len = if ragged && r % 3 == 2 { cols / 2 } else { cols };
                score.push((0..len).map(|_| it.next().map_or(I32F32::from_bits(0), |p| p.0)).collect::<Vec<_>>());
            }
            prop_assert_eq!(
                weighted_median_col(&stake, &score, majority),
                weighted_median_col_reference(&stake, &score, majority)
            );
            if let Some(row) = score.first() {
                let idx: Vec<usize> = (0..stake.len()).rev().collect();
                let sum_all = sum(&stake);
                let minority = sum_all.saturating_sub(majority);
                let score_col: Vec<I32F32> = score.iter().map(|r| r.first().copied().unwrap_or_default()).collect();
                prop_assert_eq!(
                    weighted_median(&stake, &score_col, &idx, minority, I32F32::from_bits(0), sum_all),
                    weighted_median_reference(&stake, &score_col, &idx, minority, I32F32::from_bits(0), sum_all)
                );
                let _ = row;
            }
        }
    }
}
