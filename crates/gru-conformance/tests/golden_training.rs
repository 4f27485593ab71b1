//! Training runs, bit for bit, against the fingerprints recorded before the architecture
//! refactor (`golden/training.txt`): the demo network on the shipped GestureShapes data
//! with each MATLAB solver and the options that change the step (L2, gradient clipping
//! by each method, a piecewise schedule, truncated BPTT, validation, f64), and Korali's
//! sine experiment with each Korali optimizer. The hash covers the trained parameters and
//! every loss the run reported. Threads are fixed at 2 (`RAYON_NUM_THREADS`), as in CI.

mod golden_runs;

#[test]
fn training_runs_are_bit_identical_to_the_recorded_results() {
    // The only test of this binary: no other thread reads the environment meanwhile.
    std::env::set_var("RAYON_NUM_THREADS", "2");
    golden_runs::assert_identical("training.txt", &golden_runs::training::runs());
}
