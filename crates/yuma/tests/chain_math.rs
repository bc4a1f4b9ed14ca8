//! Tests ported from subtensor's `pallets/subtensor/src/tests/math.rs` (and the pure
//! `compute_bonds` test of `tests/epoch.rs`), checking the math helpers against the chain's
//! own vectors with the chain's own tolerances. Each test keeps the chain test's name.

// The chain's vectors are kept digit for digit, even where an f32 cannot hold them.
#![allow(clippy::excessive_precision)]

use orchestra_yuma::math::*;
use substrate_fixed::types::{I32F32, I64F64};

fn assert_float_compare(a: I32F32, b: I32F32, epsilon: I32F32) {
    assert!((a - b).abs() <= epsilon, "a({a:?}) != b({b:?})");
}

fn assert_vec_compare(va: &[I32F32], vb: &[I32F32], epsilon: I32F32) {
    assert_eq!(va.len(), vb.len());
    for (a, b) in va.iter().zip(vb) {
        assert_float_compare(*a, *b, epsilon);
    }
}

fn assert_mat_compare(ma: &[Vec<I32F32>], mb: &[Vec<I32F32>], epsilon: I32F32) {
    assert_eq!(ma.len(), mb.len());
    for (ra, rb) in ma.iter().zip(mb) {
        assert_vec_compare(ra, rb, epsilon);
    }
}

fn vec_to_fixed(vector: &[f32]) -> Vec<I32F32> {
    vector.iter().map(|x| I32F32::from_num(*x)).collect()
}

/// Reshape a vector into a matrix with `rows` rows (chain helper `vec_to_mat_fixed`).
fn vec_to_mat_fixed(vector: &[f32], rows: usize, transpose: bool) -> Vec<Vec<I32F32>> {
    assert_eq!(vector.len() % rows, 0);
    let cols = vector.len() / rows;
    if transpose {
        (0..cols).map(|c| (0..rows).map(|r| I32F32::from_num(vector[r * cols + c])).collect()).collect()
    } else {
        (0..rows).map(|r| vector[r * cols..(r + 1) * cols].iter().map(|v| I32F32::from_num(*v)).collect()).collect()
    }
}

/// An EMA test vector: (old, new, alpha, target), matrices flattened by rows of 4.
type EmaCase<'a> = (&'a [f32], &'a [f32], f32, &'a [f32]);
/// A sparse EMA test vector: (old, new, target, epsilon).
type SparseEmaCase<'a> = (&'a [f32], &'a [f32], &'a [f32], f32);

fn zero_eps() -> I32F32 {
    I32F32::from_num(0)
}

#[test]
fn test_vec_max_upscale_to_u16() {
    let cases: Vec<(Vec<I32F32>, Vec<u16>)> = vec![
        (vec_to_fixed(&[]), vec![]),
        (vec_to_fixed(&[0.]), vec![0]),
        (vec_to_fixed(&[0., 0.]), vec![0, 0]),
        (vec_to_fixed(&[0., 1.]), vec![0, 65535]),
        (vec_to_fixed(&[0., 0.000000001]), vec![0, 65535]),
        (vec_to_fixed(&[0., 0.000016, 1.]), vec![0, 1, 65535]),
        (vec_to_fixed(&[0.000000001, 0.000000001]), vec![65535, 65535]),
        (
            vec_to_fixed(&[0.000001, 0.000006, 0.000007, 0.0001, 0.001, 0.01, 0.1, 0.2, 0.3, 0.4]),
            vec![0, 1, 1, 16, 164, 1638, 16384, 32768, 49151, 65535],
        ),
        (vec![I32F32::from_num(16384)], vec![65535]),
        (vec![I32F32::from_num(32768)], vec![65535]),
        (vec![I32F32::from_num(32769)], vec![65535]),
        (vec![I32F32::from_num(65535)], vec![65535]),
        (vec![I32F32::max_value()], vec![65535]),
        (vec_to_fixed(&[0., 1., 65535.]), vec![0, 1, 65535]),
        (vec_to_fixed(&[0., 0.5, 1., 1.5, 2., 32768.]), vec![0, 1, 2, 3, 4, 65535]),
        (vec_to_fixed(&[0., 0.5, 1., 1.5, 2., 32768., 32769.]), vec![0, 1, 2, 3, 4, 65533, 65535]),
        (
            vec![
                I32F32::from_num(0),
                I32F32::from_num(1),
                I32F32::from_num(32768),
                I32F32::from_num(32769),
                I32F32::max_value(),
            ],
            vec![0, 0, 1, 1, 65535],
        ),
    ];
    for (vector, target) in cases {
        assert_eq!(vec_max_upscale_to_u16(&vector), target, "input {vector:?}");
    }
}

#[test]
fn test_vec_u16_max_upscale_to_u16() {
    let cases: Vec<(Vec<u16>, Vec<u16>)> = vec![
        (vec![], vec![]),
        (vec![0], vec![0]),
        (vec![0, 0], vec![0, 0]),
        (vec![1], vec![65535]),
        (vec![0, 1], vec![0, 65535]),
        (vec![65534], vec![65535]),
        (vec![65535], vec![65535]),
        (vec![65535, 65535], vec![65535, 65535]),
        (vec![0, 1, 65534], vec![0, 1, 65535]),
        (vec![0, 1, 2, 3, 4, 65533, 65535], vec![0, 1, 2, 3, 4, 65533, 65535]),
    ];
    for (vector, target) in cases {
        assert_eq!(vec_u16_max_upscale_to_u16(&vector), target, "input {vector:?}");
    }
}

#[test]
fn test_check_vec_max_limited() {
    let m = u16::MAX;
    assert!(check_vec_max_limited(&[], 0));
    assert!(check_vec_max_limited(&[], m));
    assert!(check_vec_max_limited(&[m], m));
    assert!(!check_vec_max_limited(&[m], m - 1));
    assert!(!check_vec_max_limited(&[m], 0));
    assert!(check_vec_max_limited(&[0], m));
    assert!(check_vec_max_limited(&[0, m], m));
    assert!(!check_vec_max_limited(&[0, m, m], m / 2));
    assert!(check_vec_max_limited(&[0, m, m], m / 2 + 1));
    assert!(!check_vec_max_limited(&[0, m, m, m], m / 3 - 1));
    assert!(check_vec_max_limited(&[0, m, m, m], m / 3));
}

#[test]
fn test_math_exp_safe() {
    use substrate_fixed::transcendental::exp;
    let zero = I32F32::from_num(0);
    let one = I32F32::from_num(1);
    assert_eq!(exp_safe(zero), exp::<I32F32, I32F32>(zero).expect("exp(0)"));
    assert_eq!(exp_safe(one), exp::<I32F32, I32F32>(one).expect("exp(1)"));
    let min_input = I32F32::from_num(-20);
    let max_input = I32F32::from_num(20);
    let target = exp::<I32F32, I32F32>(min_input).expect("exp(-20)");
    assert_eq!(exp_safe(min_input), target);
    assert_eq!(exp_safe(min_input - one), target);
    assert_eq!(exp_safe(I32F32::min_value()), target);
    let target = exp::<I32F32, I32F32>(max_input).expect("exp(20)");
    assert_eq!(exp_safe(max_input), target);
    assert_eq!(exp_safe(max_input + one), target);
    assert_eq!(exp_safe(I32F32::max_value()), target);
}

#[test]
fn test_math_sigmoid_safe() {
    let trust: Vec<I32F32> = vec![
        I32F32::min_value(),
        I32F32::from_num(0),
        I32F32::from_num(0.4),
        I32F32::from_num(0.5),
        I32F32::from_num(0.6),
        I32F32::from_num(1),
        I32F32::max_value(),
    ];
    let run = |rho: I32F32, kappa: I32F32, trust: &[I32F32]| -> Vec<I32F32> {
        trust.iter().map(|t| sigmoid_safe(*t, rho, kappa)).collect()
    };
    let tiny = 0.0000000019;
    assert_eq!(
        run(I32F32::max_value(), I32F32::max_value(), &trust),
        vec_to_fixed(&[tiny, tiny, tiny, tiny, tiny, tiny, 0.5])
    );
    assert_eq!(
        run(I32F32::min_value(), I32F32::min_value(), &trust),
        vec_to_fixed(&[0.5, tiny, tiny, tiny, tiny, tiny, tiny])
    );
    let target: Vec<I32F32> =
        [0.0000000019, 0.0000003057, 0.0474258729, 0.5, 0.952574127, 0.9999996943, 0.9999999981_f64]
            .iter()
            .map(|c| I32F32::from_num(*c))
            .collect();
    assert_eq!(run(I32F32::from_num(30), I32F32::from_num(0.5), &trust), target);
    let trust = vec_to_fixed(&[0., 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.]);
    let target: Vec<I32F32> = [
        0.0000000019,
        0.0000001125,
        0.0000061442,
        0.0003353502,
        0.017986214,
        0.5,
        0.9820138067,
        0.9996646498,
        0.9999938558,
        0.9999998875,
        0.9999999981_f64,
    ]
    .iter()
    .map(|c| I32F32::from_num(*c))
    .collect();
    assert_eq!(run(I32F32::from_num(40), I32F32::from_num(0.5), &trust), target);
}

#[test]
fn test_math_is_topk() {
    assert_eq!(is_topk(&vec_to_fixed(&[]), 5), Vec::<bool>::new());
    let vector = vec_to_fixed(&[0., 1., 2., 3., 4., 5., 6., 7., 8., 9.]);
    assert_eq!(is_topk(&vector, 0), vec![false; 10]);
    assert_eq!(is_topk(&vector, 5), [vec![false; 5], vec![true; 5]].concat());
    assert_eq!(is_topk(&vector, 10), vec![true; 10]);
    assert_eq!(is_topk(&vector, 100), vec![true; 10]);
    let vector = vec_to_fixed(&[9., 8., 7., 6., 5., 4., 3., 2., 1., 0.]);
    assert_eq!(is_topk(&vector, 5), [vec![true; 5], vec![false; 5]].concat());
    let alternating = vec![true, false, true, false, true, false, true, false, true, false];
    assert_eq!(is_topk(&vec_to_fixed(&[9., 0., 8., 1., 7., 2., 6., 3., 5., 4.]), 5), alternating);
    assert_eq!(is_topk(&vec_to_fixed(&[0.9, 0., 0.8, 0.1, 0.7, 0.2, 0.6, 0.3, 0.5, 0.4]), 5), alternating);
    let vector = vec_to_fixed(&[0., 1., 2., 3., 4., 5., 5., 5., 5., 6.]);
    assert_eq!(is_topk(&vector, 5), [vec![false; 5], vec![true; 5]].concat());
}

/// Not a chain test: `is_topk_nonzero` on the same vectors never selects zeros.
#[test]
fn is_topk_nonzero_skips_zeros() {
    let vector = vec_to_fixed(&[0., 1., 2., 3., 4., 5., 6., 7., 8., 9.]);
    assert_eq!(is_topk_nonzero(&vector, 100), [vec![false], vec![true; 9]].concat());
    assert_eq!(is_topk_nonzero(&vector, 5), [vec![false; 5], vec![true; 5]].concat());
    // Ties: the ascending stable sort drops the lower index first.
    let vector = vec_to_fixed(&[1., 1., 1.]);
    assert_eq!(is_topk_nonzero(&vector, 2), vec![false, true, true]);
}

#[test]
fn test_math_sum() {
    assert_eq!(sum(&[]), I32F32::from_num(0));
    assert_eq!(sum(&vec_to_fixed(&[1.0, 10.0, 30.0])), I32F32::from_num(41));
    assert_eq!(sum(&vec_to_fixed(&[-1.0, 10.0, 30.0])), I32F32::from_num(39));
}

#[test]
fn test_math_normalize() {
    let epsilon = I32F32::from_num(0.0001);
    let x: Vec<I32F32> = vec![];
    assert_vec_compare(&x, &normalize(&x), epsilon);
    let y = normalize(&vec_to_fixed(&[1.0, 10.0, 30.0]));
    assert_vec_compare(&y, &vec_to_fixed(&[0.0243902437, 0.243902439, 0.7317073171]), epsilon);
    assert_float_compare(sum(&y), I32F32::from_num(1.0), epsilon);
    let y = normalize(&vec_to_fixed(&[-1.0, 10.0, 30.0]));
    assert_vec_compare(&y, &vec_to_fixed(&[-0.0256410255, 0.2564102563, 0.769230769]), epsilon);
    assert_float_compare(sum(&y), I32F32::from_num(1.0), epsilon);
}

#[test]
fn test_math_inplace_normalize() {
    let epsilon = I32F32::from_num(0.0001);
    let mut x1 = vec_to_fixed(&[1.0, 10.0, 30.0]);
    inplace_normalize(&mut x1);
    assert_vec_compare(&x1, &vec_to_fixed(&[0.0243902437, 0.243902439, 0.7317073171]), epsilon);
    let mut x2 = vec_to_fixed(&[-1.0, 10.0, 30.0]);
    inplace_normalize(&mut x2);
    assert_vec_compare(&x2, &vec_to_fixed(&[-0.0256410255, 0.2564102563, 0.769230769]), epsilon);
}

#[test]
fn test_math_inplace_normalize_64() {
    let epsilon = I64F64::from_num(0.0001);
    let check = |input: [f64; 3], target: [f64; 3]| {
        let mut x: Vec<I64F64> = input.iter().map(|v| I64F64::from_num(*v)).collect();
        inplace_normalize_64(&mut x);
        for (a, b) in x.iter().zip(target.iter()) {
            assert!((*a - I64F64::from_num(*b)).abs() <= epsilon, "{a:?} != {b}");
        }
    };
    check([1.0, 10.0, 30.0], [0.0243902437, 0.243902439, 0.7317073171]);
    check([-1.0, 10.0, 30.0], [-0.0256410255, 0.2564102563, 0.769230769]);
}

#[test]
fn test_math_inplace_row_normalize() {
    let epsilon = I32F32::from_num(0.0001);
    let vector = [0., 1., 2., 3., 4., 0., 10., 100., 1000., 10000., 0., 0., 0., 0., 0., 1., 1., 1., 1., 1.];
    let mut mat = vec_to_mat_fixed(&vector, 4, false);
    inplace_row_normalize(&mut mat);
    let target = [0., 0.1, 0.2, 0.3, 0.4, 0., 0.0009, 0.009, 0.09, 0.9, 0., 0., 0., 0., 0., 0.2, 0.2, 0.2, 0.2, 0.2];
    assert_mat_compare(&mat, &vec_to_mat_fixed(&target, 4, false), epsilon);
}

#[test]
fn test_math_inplace_col_normalize() {
    let epsilon = I32F32::from_num(0.0001);
    let vector = [0., 1., 2., 3., 4., 0., 10., 100., 1000., 10000., 0., 0., 0., 0., 0., 1., 1., 1., 1., 1.];
    let mut mat = vec_to_mat_fixed(&vector, 4, true);
    inplace_col_normalize(&mut mat);
    let target = [0., 0.1, 0.2, 0.3, 0.4, 0., 0.0009, 0.009, 0.09, 0.9, 0., 0., 0., 0., 0., 0.2, 0.2, 0.2, 0.2, 0.2];
    assert_mat_compare(&mat, &vec_to_mat_fixed(&target, 4, true), epsilon);
}

#[test]
fn test_math_inplace_col_max_upscale() {
    let mut mat: Vec<Vec<I32F32>> = vec![vec![]];
    inplace_col_max_upscale(&mut mat);
    assert_eq!(mat, vec![Vec::<I32F32>::new()]);
    let mut mat = vec![vec![I32F32::from_num(0)]];
    inplace_col_max_upscale(&mut mat);
    assert_eq!(mat, vec![vec![I32F32::from_num(0)]]);
    let epsilon = I32F32::from_num(0.0001);
    let vector = [0., 1., 2., 3., 4., 0., 10., 100., 1000., 10000., 0., 0., 0., 0., 0., 1., 1., 1., 1., 1.];
    let mut mat = vec_to_mat_fixed(&vector, 4, true);
    inplace_col_max_upscale(&mut mat);
    let target = [0., 0.25, 0.5, 0.75, 1., 0., 0.001, 0.01, 0.1, 1., 0., 0., 0., 0., 0., 1., 1., 1., 1., 1.];
    assert_mat_compare(&mat, &vec_to_mat_fixed(&target, 4, true), epsilon);
}

#[test]
fn test_math_inplace_mask_vector() {
    let cases = [
        ([false, false, false], [0., 1., 2.]),
        ([false, true, false], [0., 0., 2.]),
        ([true, true, true], [0., 0., 0.]),
    ];
    for (mask, target) in cases {
        let mut vector = vec_to_fixed(&[0., 1., 2.]);
        inplace_mask_vector(&mask, &mut vector);
        assert_vec_compare(&vector, &vec_to_fixed(&target), zero_eps());
    }
}

#[test]
fn test_math_inplace_mask_matrix() {
    let vector = [0., 1., 2., 3., 4., 5., 6., 7., 8.];
    let cases = [
        ([[false; 3]; 3], vector),
        ([[true, false, false], [false, true, false], [false, false, true]], [0., 1., 2., 3., 0., 5., 6., 7., 0.]),
        ([[true; 3]; 3], [0.; 9]),
    ];
    for (mask, target) in cases {
        let mask: Vec<Vec<bool>> = mask.iter().map(|r| r.to_vec()).collect();
        let mut mat = vec_to_mat_fixed(&vector, 3, false);
        inplace_mask_matrix(&mask, &mut mat);
        assert_mat_compare(&mat, &vec_to_mat_fixed(&target, 3, false), zero_eps());
    }
}

#[test]
fn test_math_inplace_mask_rows() {
    let input = [1., 2., 3., 4., 5., 6., 7., 8., 9.];
    let cases = [
        ([false, false, false], input),
        ([true, true, true], [0.; 9]),
        ([true, false, true], [0., 0., 0., 4., 5., 6., 0., 0., 0.]),
    ];
    for (mask, target) in cases {
        let mut mat = vec_to_mat_fixed(&input, 3, false);
        inplace_mask_rows(&mask, &mut mat);
        assert_mat_compare(&mat, &vec_to_mat_fixed(&target, 3, false), zero_eps());
    }
    let mut mat = vec_to_mat_fixed(&[0.; 9], 3, false);
    inplace_mask_rows(&[false, false, false], &mut mat);
    assert_mat_compare(&mat, &vec_to_mat_fixed(&[0.; 9], 3, false), zero_eps());
}

#[test]
fn test_math_inplace_mask_diag() {
    let mut mat = vec_to_mat_fixed(&[1., 2., 3., 4., 5., 6., 7., 8., 9.], 3, false);
    inplace_mask_diag(&mut mat);
    assert_mat_compare(&mat, &vec_to_mat_fixed(&[0., 2., 3., 4., 0., 6., 7., 8., 0.], 3, false), zero_eps());
}

#[test]
fn test_math_inplace_mask_diag_except_index() {
    let vector = [1., 2., 3., 4., 5., 6., 7., 8., 9.];
    for i in 0..3 {
        let mut target = [0., 2., 3., 4., 0., 6., 7., 8., 0.];
        target[i * 3 + i] = vector[i * 3 + i];
        let mut mat = vec_to_mat_fixed(&vector, 3, false);
        inplace_mask_diag_except_index(&mut mat, i as u16);
        assert_mat_compare(&mat, &vec_to_mat_fixed(&target, 3, false), zero_eps());
    }
}

#[test]
fn test_math_vec_mul() {
    let vector = vec_to_fixed(&[1., 2., 3., 4.]);
    assert_vec_compare(&vec_mul(&vector, &vector), &vec_to_fixed(&[1., 4., 9., 16.]), zero_eps());
    assert_vec_compare(&vec_mul(&[], &vector), &[], zero_eps());
    let vector_zero = vec_to_fixed(&[0.; 8]);
    assert_vec_compare(&vec_mul(&vector_zero, &vector), &vec_to_fixed(&[0.; 4]), zero_eps());
}

#[test]
fn test_math_mat_vec_mul() {
    let matrix = vec_to_mat_fixed(&[1., 2., 3., 4., 5., 6., 7., 8., 9., 10., 11., 12.], 4, false);
    let target = vec_to_mat_fixed(&[1., 4., 9., 4., 10., 18., 7., 16., 27., 10., 22., 36.], 4, false);
    assert_mat_compare(&mat_vec_mul(&matrix, &vec_to_fixed(&[1., 2., 3.])), &target, zero_eps());
    let target = vec_to_mat_fixed(&[1., 0., 0., 4., 0., 0., 7., 0., 0., 10., 0., 0.], 4, false);
    assert_mat_compare(&mat_vec_mul(&matrix, &vec_to_fixed(&[1., 0., 0.])), &target, zero_eps());
    assert_mat_compare(&mat_vec_mul(&matrix, &[]), &vec![vec![]; 4], zero_eps());
}

#[test]
fn test_math_row_hadamard() {
    let matrix = vec_to_mat_fixed(&[1., 2., 3., 4., 5., 6., 7., 8., 9., 10., 11., 12.], 4, false);
    let result = row_hadamard(&matrix, &vec_to_fixed(&[1., 2., 3., 4.]));
    let target = vec_to_mat_fixed(&[1., 2., 3., 8., 10., 12., 21., 24., 27., 40., 44., 48.], 4, false);
    assert_mat_compare(&result, &target, zero_eps());
}

#[test]
fn test_math_row_sum() {
    let matrix = vec_to_mat_fixed(&[1., 2., 3., 4., 5., 6., 7., 8., 9., 10., 11., 12.], 4, false);
    assert_vec_compare(&row_sum(&matrix), &vec_to_fixed(&[6., 15., 24., 33.]), zero_eps());
}

#[test]
fn test_math_matmul() {
    let matrix = vec_to_mat_fixed(&[1., 2., 3., 4., 5., 6., 7., 8., 9., 10., 11., 12.], 4, false);
    let result = matmul(&matrix, &vec_to_fixed(&[1., 2., 3., 4.]));
    assert_vec_compare(&result, &vec_to_fixed(&[70., 80., 90.]), zero_eps());
}

#[test]
fn test_math_matmul_transpose() {
    let matrix = vec_to_mat_fixed(&[1., 2., 3., 4., 5., 6., 7., 8., 9., 10., 11., 12.], 4, false);
    let result = matmul_transpose(&matrix, &vec_to_fixed(&[1., 2., 3.]));
    assert_vec_compare(&result, &vec_to_fixed(&[14., 32., 50., 68.]), zero_eps());
}

#[test]
fn test_math_matmul2() {
    let epsilon = I32F32::from_num(0.0001);
    let f = I32F32::from_num::<f64>;
    let ones = vec![vec![f(1.0); 3]; 3];
    for (scale, expect) in [(1.0, 3.0), (2.0, 6.0), (3.0, 9.0), (-1.0, -3.0)] {
        assert_vec_compare(&matmul(&ones, &[f(scale); 3]), &[f(expect); 3], epsilon);
    }
    let neg = vec![vec![f(-1.0); 3]; 3];
    for (scale, expect) in [(1.0, -3.0), (2.0, -6.0), (3.0, -9.0), (-1.0, 3.0)] {
        assert_vec_compare(&matmul(&neg, &[f(scale); 3]), &[f(expect); 3], epsilon);
    }
    let rows = vec![vec![f(1.0); 3], vec![f(2.0); 3], vec![f(3.0); 3]];
    assert_vec_compare(&matmul(&rows, &[f(0.0); 3]), &[f(0.0); 3], epsilon);
    assert_vec_compare(&matmul(&rows, &[f(2.0); 3]), &[f(12.0); 3], epsilon);
    let cols = vec![vec![f(1.0), f(2.0), f(3.0)]; 3];
    assert_vec_compare(&matmul(&cols, &[f(0.0); 3]), &[f(0.0); 3], epsilon);
    assert_vec_compare(&matmul(&cols, &[f(2.0); 3]), &[f(6.0), f(12.0), f(18.0)], epsilon);
}

#[test]
fn test_math_inplace_col_clip() {
    let mut matrix = vec_to_mat_fixed(&[0., 2., 3., 4., 5., 6., 7., 8., 9., 10., 11., 12.], 4, false);
    inplace_col_clip(&mut matrix, &vec_to_fixed(&[0., 5., 12.]));
    let target = vec_to_mat_fixed(&[0., 2., 3., 0., 5., 6., 0., 5., 9., 0., 5., 12.], 4, false);
    assert_mat_compare(&matrix, &target, zero_eps());
}

/// A small deterministic generator standing in for the chain test's `rand::rng()`.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn coin(&mut self) -> bool {
        self.next() & 1 == 1
    }
    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
    }
}

#[test]
fn test_math_weighted_median() {
    let zero = fixed(0.);
    let one = fixed(1.);
    let wm = |stake: &[I32F32], score: &[I32F32], majority: I32F32| {
        let idx: Vec<usize> = (0..stake.len()).collect();
        weighted_median(stake, score, &idx, one - majority, zero, sum(stake))
    };
    let maj = fixed(0.51);
    assert_eq!(zero, wm(&[], &[], maj));
    assert_eq!(one, wm(&normalize(&vec_to_fixed(&[0.51])), &vec_to_fixed(&[1.]), maj));
    assert_eq!(one, wm(&vec_to_fixed(&[0.49, 0.51]), &vec_to_fixed(&[0.5, 1.]), maj));
    assert_eq!(fixed(0.5), wm(&vec_to_fixed(&[0.51, 0.49]), &vec_to_fixed(&[0.5, 1.]), maj));
    assert_eq!(one, wm(&vec_to_fixed(&[0.49, 0., 0.51]), &vec_to_fixed(&[0.5, 0.7, 1.]), maj));
    assert_eq!(fixed(0.7), wm(&vec_to_fixed(&[0.49, 0.01, 0.5]), &vec_to_fixed(&[0.5, 0.7, 1.]), maj));
    assert_eq!(fixed(0.7), wm(&vec_to_fixed(&[0.49, 0.51, 0.0]), &vec_to_fixed(&[0.5, 0.7, 1.]), maj));
    assert_eq!(one, wm(&vec_to_fixed(&[0.0, 0.49, 0.51]), &vec_to_fixed(&[0.5, 0.7, 1.]), maj));
    assert_eq!(one, wm(&vec_to_fixed(&[0.0, 0.49, 0.0, 0.51]), &vec_to_fixed(&[0.5, 0.5, 1., 1.]), maj));
    assert_eq!(one, wm(&vec_to_fixed(&[0.0, 0.49, 0.0, 0.51, 0.0]), &vec_to_fixed(&[0.5, 0.5, 1., 1., 0.5]), maj));
    assert_eq!(fixed(0.6), wm(&vec_to_fixed(&[0.2; 5]), &vec_to_fixed(&[0.8, 0.2, 1., 0.6, 0.4]), maj));
    assert_eq!(
        fixed(0.6),
        wm(&vec_to_fixed(&[0.1; 10]), &vec_to_fixed(&[0.8, 0.8, 0.2, 0.2, 1.0, 1.0, 0.6, 0.6, 0.4, 0.4]), maj)
    );

    // Randomized part: the result is one of the scores at the minority boundary of the sorted
    // stake integral, and permuting the inputs does not change that.
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let n = 100;
    for majority in vec_to_fixed(&[0., 0.0000001, 0.25, 0.49, 0.49, 0.49, 0.5, 0.51, 0.51, 0.51, 0.9999999, 1.]) {
        for allow_equal in [false, true] {
            let mut stake: Vec<I32F32> = vec![];
            let mut score: Vec<I32F32> = vec![];
            let mut last_score = zero;
            for i in 0..n {
                if allow_equal {
                    stake.push(if rng.coin() { one } else { zero });
                    if rng.coin() {
                        last_score += one;
                    }
                    score.push(last_score);
                } else {
                    stake.push(one);
                    score.push(I32F32::from_num(i));
                }
            }
            inplace_normalize(&mut stake);
            let total_stake = sum(&stake);
            let minority = (total_stake - majority).max(zero);
            let mut medians: Vec<I32F32> = vec![];
            let mut median_stake = zero;
            let mut median_set = false;
            let mut stake_sum = zero;
            for i in 0..n {
                stake_sum += stake[i];
                if !median_set && stake_sum >= minority {
                    median_stake = stake_sum;
                    median_set = true;
                }
                if median_set {
                    if median_stake < stake_sum {
                        if median_stake == minority && !medians.contains(&score[i]) {
                            medians.push(score[i]);
                        }
                        break;
                    }
                    if !medians.contains(&score[i]) {
                        medians.push(score[i]);
                    }
                }
            }
            if medians.is_empty() {
                medians.push(zero);
            }
            let idx: Vec<usize> = (0..n).collect();
            assert!(medians.contains(&weighted_median(&stake, &score, &idx, minority, zero, total_stake)));
            for _ in 0..10 {
                let mut perm: Vec<usize> = (0..n).collect();
                rng.shuffle(&mut perm);
                stake = perm.iter().map(|&i| stake[i]).collect();
                score = perm.iter().map(|&i| score[i]).collect();
                assert!(medians.contains(&weighted_median(&stake, &score, &idx, minority, zero, total_stake)));
            }
        }
    }
}

#[test]
fn test_math_weighted_median_col() {
    assert_eq!(weighted_median_col(&[], &[vec![]], fixed(0.5)), Vec::<I32F32>::new());
    let weights = vec_to_mat_fixed(&[0., 0., 0., 0.], 2, false);
    assert_eq!(weighted_median_col(&vec_to_fixed(&[0., 0.]), &weights, fixed(0.5)), vec_to_fixed(&[0., 0.]));

    let stake = vec_to_fixed(&[0., 0.75, 0.25, 0.]);
    let weights = vec_to_mat_fixed(&[0., 0.1, 0., 0., 0.2, 0.4, 0., 0.3, 0.1, 0., 0.4, 0.5], 4, false);
    assert_eq!(weighted_median_col(&stake, &weights, fixed(0.24)), vec_to_fixed(&[0., 0.3, 0.4]));
    assert_eq!(weighted_median_col(&stake, &weights, fixed(0.26)), vec_to_fixed(&[0., 0.2, 0.4]));
    assert_eq!(weighted_median_col(&stake, &weights, fixed(0.76)), vec_to_fixed(&[0., 0.2, 0.1]));

    let stake = vec_to_fixed(&[0., 0.3, 0.2, 0.5]);
    let weights = vec_to_mat_fixed(&[0., 0.1, 0., 0., 0.2, 0.4, 0., 0.3, 0.1, 0., 0., 0.5], 4, false);
    assert_eq!(weighted_median_col(&stake, &weights, fixed(0.51)), vec_to_fixed(&[0., 0., 0.4]));
}

#[test]
fn test_math_interpolate() {
    let empty: Vec<Vec<I32F32>> = vec![vec![]];
    assert_mat_compare(&interpolate(&empty, &empty, I32F32::from_num(0)), &empty, zero_eps());
    let mat1 = vec![vec![I32F32::from_num(0)]];
    let mat2 = vec![vec![I32F32::from_num(1)]];
    assert_mat_compare(&interpolate(&mat1, &mat2, I32F32::from_num(0)), &mat1, zero_eps());
    assert_mat_compare(&interpolate(&mat1, &mat2, I32F32::from_num(1)), &mat2, zero_eps());

    let zeros = vec_to_mat_fixed(&[0.; 12], 4, false);
    assert_mat_compare(&interpolate(&zeros, &zeros, I32F32::from_num(0)), &zeros, zero_eps());
    assert_mat_compare(&interpolate(&zeros, &zeros, I32F32::from_num(1)), &zeros, zero_eps());

    let mat1 = vec_to_mat_fixed(&[1., 10., 100., 1000., 10000., 100000.], 3, false);
    let mat2 = vec_to_mat_fixed(&[10., 100., 1000., 10000., 100000., 1000000.], 3, false);
    assert_mat_compare(&interpolate(&mat1, &mat2, I32F32::from_num(0)), &mat1, zero_eps());
    let target = vec_to_mat_fixed(&[9.1, 91., 910., 9100., 91000., 910000.], 3, false);
    assert_mat_compare(&interpolate(&mat1, &mat2, I32F32::from_num(0.9)), &target, I32F32::from_num(0.0001));

    let ones = vec_to_mat_fixed(&[1.; 12], 4, false);
    assert_mat_compare(&interpolate(&zeros, &ones, I32F32::from_num(0)), &zeros, zero_eps());
    for (ratio, value) in [(0.000000001, 0.000000001), (0.5, 0.5), (0.9999998808, 0.999_999_9), (1.0, 1.0)] {
        let target = vec_to_mat_fixed(&[value; 12], 4, false);
        assert_mat_compare(&interpolate(&zeros, &ones, I32F32::from_num(ratio)), &target, zero_eps());
    }
}

#[test]
fn test_math_mat_ema_alpha() {
    let eps = I32F32::from_num(1e-4);
    let old_a = [0.1, 0.2, 3., 0.04, 0.05, 0.06, 0.07, 0.08, 0.09, 0.10, 0.11, 0.12];
    let cases: [EmaCase; 3] = [
        (
            &old_a,
            &[1., 2., 3., 4., 5., 6., 7., 8., 9., 10., 11., 12.],
            0.1,
            &[0.19, 0.38, 1., 0.436, 0.545, 0.6539, 0.763, 0.8719, 0.981, 1., 1., 1.],
        ),
        (
            &old_a,
            &[10., 20., 30., 40., 50., 60., 70., 80., 90., 100., 110., 120.],
            0.,
            &[0.10, 0.2, 1., 0.0399, 0.05, 0.0599, 0.07, 0.07999, 0.09, 0.1, 0.10999, 0.11999],
        ),
        (
            &[0.001, 0.002, 0.003, 0.004, 0.05, 0.006, 0.007, 0.008, 0.009, 0.010, 0.011, 0.012],
            &old_a,
            1.,
            &[0.10, 0.2, 1., 0.0399, 0.05, 0.0599, 0.07, 0.07999, 0.09, 0.1, 0.10999, 0.11999],
        ),
    ];
    for (old, new, alpha, target) in cases {
        let result = mat_ema_alpha(
            &vec_to_mat_fixed(new, 4, false),
            &vec_to_mat_fixed(old, 4, false),
            &vec_to_mat_fixed(&[alpha; 12], 4, false),
        );
        assert_mat_compare(&result, &vec_to_mat_fixed(target, 4, false), eps);
    }
}

/// Chain `test_math_sparse_mat_ema_alpha`, run through the dense form of `mat_ema_alpha_sparse`
/// (zero entries are absent, as in the chain's `vec_to_sparse_mat_fixed`).
#[test]
fn test_math_sparse_mat_ema_alpha() {
    let cases: [SparseEmaCase; 5] = [
        (
            &[0.1, 0.2, 3., 0.04, 0.05, 0.06, 0.07, 0.08, 0.09, 0.10, 0.11, 0.12],
            &[1., 2., 3., 4., 5., 6., 7., 8., 9., 10., 11., 12.],
            &[0.19, 0.38, 1., 0.43599, 0.545, 0.65399, 0.763, 0.87199, 0.981, 1., 1., 1.],
            1e-4,
        ),
        (
            &[0.001, 0.002, 0.003, 0.004, 0.05, 0.006, 0.007, 0.008, 0.009, 0.010, 0.011, 0.012],
            &[0.1, 0.2, 3., 0.04, 0.05, 0.06, 0.07, 0.08, 0.09, 0.10, 0.11, 0.12],
            &[0.0109, 0.0218, 0.30270, 0.007599, 0.05, 0.01139, 0.0133, 0.01519, 0.017, 0.01899, 0.02089, 0.0227],
            1e-4,
        ),
        (
            &[0.; 12],
            &[0.1, 0.2, 3., 0.04, 0.05, 0.06, 0.07, 0.08, 0.09, 0.10, 0.11, 0.12],
            &[0.01, 0.02, 0.3, 0.00399, 0.005, 0.00599, 0.007, 0.00799, 0.009, 0.01, 0.011, 0.01199],
            1e-4,
        ),
        (&[0.; 12], &[0.; 12], &[0.; 12], 1e-4),
        (
            &[1., 0., 0., 0., 0., 0., 0., 0., 0., 0., 0., 0.],
            &[0., 0., 0., 0., 2., 0., 0., 0., 0., 0., 0., 0.],
            &[0.0, 0., 0., 0., 0.2, 0., 0., 0., 0., 0., 0., 0.],
            1e-1,
        ),
    ];
    for (old, new, target, eps) in cases {
        let result = mat_ema_alpha_drop_absent(
            &vec_to_mat_fixed(new, 4, false),
            &vec_to_mat_fixed(old, 4, false),
            &vec_to_mat_fixed(&[0.1; 12], 4, false),
        );
        assert_mat_compare(&result, &vec_to_mat_fixed(target, 4, false), I32F32::from_num(eps));
    }
}

fn mat_to_fixed(matrix: &[Vec<f32>]) -> Vec<Vec<I32F32>> {
    matrix.iter().map(|row| vec_to_fixed(row)).collect()
}

#[test]
fn test_mat_ema_alpha_basic() {
    let new = mat_to_fixed(&[vec![1.0, 2.0, 3.0], vec![4.0, 5.0, 6.0]]);
    let old = mat_to_fixed(&[vec![0.5, 1.5, 2.5], vec![3.5, 4.5, 5.5]]);
    let alpha = vec![vec![I32F32::from_num(0.5); 3]; 2];
    let expected = mat_to_fixed(&[vec![0.75, 1.0, 1.0], vec![1.0, 1.0, 1.0]]);
    assert_eq!(mat_ema_alpha(&new, &old, &alpha), expected);
}

#[test]
fn test_mat_ema_alpha_varying_alpha() {
    let new = mat_to_fixed(&[vec![1.0, 2.0, 3.0], vec![4.0, 5.0, 6.0]]);
    let old = mat_to_fixed(&[vec![0.5, 1.5, 2.5], vec![3.5, 4.5, 5.5]]);
    let alpha = vec![vec_to_fixed(&[0.2, 0.5, 0.8]); 2];
    let expected = mat_to_fixed(&[vec![0.6, 1.0, 1.0], vec![1.0, 1.0, 1.0]]);
    assert_mat_compare(&mat_ema_alpha(&new, &old, &alpha), &expected, I32F32::from_num(1e-6));
}

/// Chain `test_mat_ema_alpha_sparse_varying_alpha`, dense form.
#[test]
fn test_mat_ema_alpha_sparse_varying_alpha() {
    // The chain test builds these from f64 literals.
    let f = I32F32::from_num::<f64>;
    let weights = vec![vec![f(0.1), f(0.2)], vec![f(0.3), f(0.4)]];
    let bonds = vec![vec![f(0.5), f(0.6)], vec![f(0.7), f(0.8)]];
    let alpha = vec![vec![f(0.9), f(0.8)], vec![f(0.5), f(0.7)]];
    let expected = vec![vec![f(0.14), f(0.28)], vec![f(0.499999), f(0.519999)]];
    let eps = I32F32::from_num(1e-6);
    assert_mat_compare(&mat_ema_alpha_drop_absent(&weights, &bonds, &alpha), &expected, eps);
    // With every entry present the dense function agrees.
    assert_mat_compare(&mat_ema_alpha(&weights, &bonds, &alpha), &expected, eps);
}

#[test]
fn test_mat_ema_alpha_empty_matrices() {
    assert_eq!(mat_ema_alpha(&[], &[], &[]), vec![Vec::<I32F32>::new()]);
}

#[test]
fn test_mat_ema_alpha_single_element() {
    let result = mat_ema_alpha(&mat_to_fixed(&[vec![1.0]]), &mat_to_fixed(&[vec![0.5]]), &[vec![fixed(0.5)]]);
    assert_eq!(result, mat_to_fixed(&[vec![0.75]]));
}

#[test]
fn test_mat_ema_alpha_mismatched_dimensions() {
    let new = mat_to_fixed(&[vec![1.0, 2.0], vec![3.0, 4.0]]);
    let old = mat_to_fixed(&[vec![1.0, 2.0, 3.0], vec![4.0, 5.0, 6.0]]);
    let alpha = vec![vec![I32F32::from_num(0.5); 3]; 2];
    let result = mat_ema_alpha(&new, &old, &alpha);
    assert_eq!(result[0][0], old[0][0]);
}

#[test]
fn test_math_fixed_to_u16() {
    for expected in [u16::MIN, u16::MAX / 2, u16::MAX] {
        assert_eq!(fixed_to_u16(I32F32::from_num(expected)), expected);
    }
}

#[test]
fn test_math_fixed64_to_u64_saturates() {
    assert_eq!(fixed64_to_u64(I64F64::from_num(-1)), 0);
    assert_eq!(fixed64_to_u64(I64F64::from_num(i64::MAX)), i64::MAX as u64);
}

#[test]
fn test_math_fixed64_to_fixed32_saturates() {
    assert_eq!(fixed64_to_fixed32(I64F64::from_num(u32::MAX)), I32F32::max_value());
}

#[test]
fn test_fixed_proportion_to_u16() {
    assert_eq!(fixed_proportion_to_u16(I32F32::from_num(0)), 0);
    // Saturates.
    assert_eq!(fixed_proportion_to_u16(I32F32::from_num(u16::MAX)), u16::MAX);
    assert_eq!(u16_proportion_to_fixed(0), I32F32::from_num(0));
}

/// Chain `tests/epoch.rs::test_liquid_alpha_equal_values_against_itself`: liquid alpha with
/// `alpha_low == alpha_high == 0.1` equals the fixed EMA with `α = 1 − 900000/1e6 = 0.1`.
#[test]
fn test_liquid_alpha_equal_values_against_itself() {
    let weights = vec_to_mat_fixed(&[0., 0.1, 0., 0., 0.2, 0.4, 0., 0.3, 0.1, 0., 0.4, 0.5], 4, false);
    let bonds = vec_to_mat_fixed(&[0.1, 0.1, 0.5, 0., 0., 0.4, 0.5, 0.1, 0.1, 0., 0.4, 0.2], 4, false);
    let consensus = vec_to_fixed(&[0.3, 0.2, 0.1, 0.4]);
    let a = u16_proportion_to_fixed(u16::MAX / 10);
    let alphas = compute_liquid_alpha_values(&weights, &bonds, &consensus, a, a, I32F32::from_num(1000));
    let liquid = mat_ema_alpha(&weights, &bonds, &alphas);
    let fixed_alpha = mat_ema(&weights, &bonds, I32F32::from_num(1) - I32F32::from_num(0.9));
    assert_mat_compare(&liquid, &fixed_alpha, I32F32::from_num(1e-3));
}
