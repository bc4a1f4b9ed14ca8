//! The SDK's `convert_weights_and_uids_for_emit`: float weights to the u16 vector the chain
//! takes. Max-normalize, scale to 65535, round half to even (Python's `round`), and drop the
//! uids whose weight rounds to zero.

use crate::ProtoError;

pub const U16_MAX: f64 = 65535.0;

/// Convert `(uids, weights)` as the Python SDK does. Negative, NaN or infinite weights and
/// length mismatches are errors; an all-zero vector gives empty vectors.
pub fn convert_weights_and_uids_for_emit(uids: &[u16], weights: &[f64]) -> Result<(Vec<u16>, Vec<u16>), ProtoError> {
    if uids.len() != weights.len() {
        return Err(ProtoError::Weights(format!(
            "{} uids but {} weights: the lengths must match",
            uids.len(),
            weights.len()
        )));
    }
    if let Some((i, w)) = weights.iter().enumerate().find(|(_, w)| !w.is_finite() || **w < 0.0) {
        return Err(ProtoError::Weights(format!("weight for uid {} is {w}: weights must be finite and ≥ 0", uids[i])));
    }
    let max = weights.iter().cloned().fold(0.0_f64, f64::max);
    if max == 0.0 {
        return Ok((Vec::new(), Vec::new()));
    }
    let mut out_uids = Vec::with_capacity(uids.len());
    let mut out_w = Vec::with_capacity(uids.len());
    for (uid, w) in uids.iter().zip(weights) {
        let v = (w / max * U16_MAX).round_ties_even();
        if v != 0.0 {
            out_uids.push(*uid);
            out_w.push(v as u16);
        }
    }
    Ok((out_uids, out_w))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_input() {
        assert!(convert_weights_and_uids_for_emit(&[0, 1], &[1.0]).is_err());
        assert!(convert_weights_and_uids_for_emit(&[0], &[-1.0]).is_err());
        assert!(convert_weights_and_uids_for_emit(&[0], &[f64::NAN]).is_err());
    }
}
