//! The native engine's results, bit for bit, against the fingerprints recorded before the
//! architecture refactor (`golden/engine.txt`, see `gru_conformance::golden`): every
//! fixture and every cross-product point on the scalar reference path and the fast path
//! (1 and 2 threads), inference and training, plus shapes that take the fast path's other
//! routes (packed-kernel blocks, the unit split in inference and training, one sweep with
//! split GEMMs, the batch split). A refactor that changes any bit of any output or
//! gradient fails here, naming the case.

mod golden_runs;

use golden_runs::{assert_identical, engine};

#[test]
fn fixtures_are_bit_identical_to_the_recorded_results() {
    assert_identical("fixtures.txt", &engine::fixtures());
}

#[test]
fn cross_product_is_bit_identical_to_the_recorded_results() {
    assert_identical("cross_product.txt", &engine::cross_product_points());
}

#[test]
fn fast_path_routes_are_bit_identical_to_the_recorded_results() {
    assert_identical("routes.txt", &engine::routes());
}
