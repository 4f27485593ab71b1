//! The data loaders on the fixtures of `tests/data/` (see its README): messy-but-valid
//! files load to the expected values exactly, malformed ones give `Error::File` naming the
//! file and, where there is one, the line.

use std::path::PathBuf;

use gru::data::{
    load_any, load_csv, load_npy, load_npz, load_ts, load_ucr_tsv, parse_ts, CsvLayout, Missing, TargetKind,
};
use gru::{Error, SequenceDataset, Targets};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)
}

fn file_error<T: std::fmt::Debug>(r: gru::Result<T>, path: &std::path::Path, want: &str) {
    match r {
        Err(Error::File { path: p, reason }) => {
            assert_eq!(p, path.display().to_string());
            assert!(reason.contains(want), "`{reason}` does not contain `{want}`");
        }
        other => panic!("expected Error::File containing `{want}`, got {other:?}"),
    }
}

fn names(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// The expected `[len, C]` sequences of `messy_multivariate.ts`, as f64.
fn messy_multivariate() -> Vec<Vec<f64>> {
    vec![
        vec![1.5e-4, 4.0, 2.0, 5.0, 3.0, 6.0],
        // dim 1 `?,1,?,?,4` and dim 2 `0.5,?,?,?,-25` interpolated.
        vec![1.0, 0.5, 1.0, -5.875, 2.0, -12.25, 3.0, -18.625, 4.0, -25.0],
        vec![7.0, 8.0],
        vec![-1e-3, 10.0, 2.0, 20.0, 2.0, 30.0],
    ]
}

#[test]
fn messy_ts_loads_exactly() {
    let path = fixture("messy_multivariate.ts");
    let mut ds: SequenceDataset<f64> = load_ts(&path).unwrap();
    assert_eq!(ds.channels, 2);
    // The `?` load as NaN (missing), the others exactly.
    let want = messy_multivariate();
    assert_eq!(ds.sequences[1].iter().filter(|v| v.is_nan()).count(), 6);
    for (got, want) in ds.sequences.iter().zip(&want) {
        assert!(got.iter().zip(want).all(|(g, w)| g.is_nan() || g == w), "{got:?} vs {want:?}");
    }
    assert!(ds.check_complete().is_err());
    Missing::Interpolate.apply(&mut ds).unwrap();
    assert_eq!(ds.sequences, want);
    assert_eq!(ds.targets, Targets::Classes(vec![1, 0, 2, 0]));
    assert_eq!(ds.class_names, names(&["up", "down", "flat"]));

    let mut ds32: SequenceDataset<f32> = load_any(&path).unwrap();
    Missing::Interpolate.apply(&mut ds32).unwrap();
    let want32: Vec<Vec<f32>> = want.iter().map(|s| s.iter().map(|&v| v as f32).collect()).collect();
    assert_eq!(ds32.sequences, want32);
}

/// Issue 16, item 11: a dimension whose values are all missing in one case loads (NaN), and
/// what becomes of the missing values is the caller's explicit choice.
#[test]
fn an_all_missing_dimension_loads_and_each_choice_is_applied() {
    let text = "@problemName m\n@dimensions 2\n@classLabel true a b\n@data\n1,2,3:4,5,6:a\n?,?,?:7,?,9:b\n";
    let ds = parse_ts::<f32>(text.as_bytes(), "m.ts").unwrap();
    assert!(ds.sequences[1].iter().step_by(2).all(|v| v.is_nan()), "{:?}", ds.sequences[1]);
    let err = ds.check_complete().unwrap_err().to_string();
    assert!(err.contains("sequences[1]") && err.contains("step 0, channel 0 is a missing value"), "{err}");

    let filled = |m: Missing| {
        let mut d = ds.clone();
        m.apply(&mut d).map(|()| d.sequences[1].clone())
    };
    // [len 3, C 2] row-major: channel 0 all missing, channel 1 = 7, ?, 9.
    assert_eq!(filled(Missing::Interpolate).unwrap(), vec![0.0, 7.0, 0.0, 8.0, 0.0, 9.0]);
    assert_eq!(filled(Missing::Zero).unwrap(), vec![0.0, 7.0, 0.0, 0.0, 0.0, 9.0]);
    let err = filled(Missing::Error).unwrap_err().to_string();
    assert!(err.contains("sequences[1]") && err.contains("step 0, channel 0"), "{err}");
    // The complete first sequence is never changed.
    assert_eq!(ds.sequences[0], vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
}

/// Data with missing values reach no network unfilled: training, evaluation and prediction
/// name the first missing value instead of computing with NaN.
#[test]
fn unfilled_missing_values_are_refused_by_training_evaluation_and_prediction() {
    use gru::network::{classification, fully_connected, gru, sequence_input, softmax};
    use gru::train::{evaluate, predict};
    use gru::{layers, Network, OutputMode, Trainer, TrainingOptions};
    let text = "@problemName m\n@univariate true\n@classLabel true a b\n@data\n1,2,3:a\n3,?,1:b\n";
    let ds = parse_ts::<f32>(text.as_bytes(), "m.ts").unwrap();
    let specs = layers![
        sequence_input(1),
        gru(2).output_mode(OutputMode::Last),
        fully_connected(2),
        softmax(),
        classification()
    ];
    let mut net = Network::<f32>::new(specs, 1).unwrap();
    let want = "step 1, channel 0 is a missing value";
    let options = TrainingOptions { max_epochs: 1, ..TrainingOptions::default() };
    let mut trainer = Trainer::new(&net, options).unwrap();
    let err = trainer.fit(&mut net, &ds, None, &mut |_| {}).unwrap_err().to_string();
    assert!(err.contains("sequences[1]") && err.contains(want), "{err}");
    let err = evaluate(&mut net, &ds, 8).unwrap_err().to_string();
    assert!(err.contains(want), "{err}");
    let err = predict(&mut net, &ds.sequences, 1, 8).unwrap_err().to_string();
    assert!(err.contains(want), "{err}");
    let mut filled = ds.clone();
    Missing::Interpolate.apply(&mut filled).unwrap();
    assert_eq!(filled.sequences[1], vec![3.0, 2.0, 1.0]);
    trainer.fit(&mut net, &filled, None, &mut |_| {}).unwrap();
}

#[test]
fn messy_regression_ts_loads_exactly() {
    let ds: SequenceDataset<f64> = load_any(fixture("messy_regression.ts")).unwrap();
    assert_eq!(ds.channels, 1);
    assert_eq!(ds.sequences, vec![vec![1.0, 2.0, 3.0], vec![4.0, 5.0], vec![6.0]]);
    assert_eq!(ds.targets, Targets::Responses(vec![vec![0.5], vec![-125.0], vec![3.0]]));
    assert!(ds.class_names.is_empty());
}

#[test]
fn ts_errors_name_the_line() {
    let src = std::path::Path::new("bad.ts");
    let head = "@problemName bad\r\n@dimensions 2\r\n@classLabel true a b\r\n@data\r\n";
    let cases = [
        (format!("{head}1,2:3,4:a\r\n1,2:a\r\n"), "line 6: expected 2 dimensions, found 1"),
        (format!("{head}1,2:3,abc:a\r\n"), "line 5: dimension 2, value 2: \"abc\" is not a finite number"),
        (format!("{head}1,2:3,4:z\r\n"), "line 5: class label \"z\" is not declared in @classLabel (a b)"),
        (format!("{head}1,2,3:3,4:a\r\n"), "line 5: dimension 2 has 2 values but dimension 1 has 3"),
        (format!("{head}\r\n"), "line 4: no sequence after @data"),
        ("@dimensions 2\r\n".to_string(), "no @data line"),
        (format!("{head}1,2:3,4\r\n"), "line 5: the label is missing"),
    ];
    for (text, want) in cases {
        file_error(parse_ts::<f32>(text.as_bytes(), src), src, want);
    }
}

#[test]
fn ucr_tsv_loads_with_padding() {
    let mut ds: SequenceDataset<f64> = load_ucr_tsv(fixture("ucr_unequal.tsv")).unwrap();
    assert_eq!(ds.channels, 1);
    // The interior NaN is missing (NaN in the data), the trailing ones pad.
    assert!(ds.sequences[1].len() == 3 && ds.sequences[1][1].is_nan(), "{:?}", ds.sequences[1]);
    Missing::Interpolate.apply(&mut ds).unwrap();
    assert_eq!(ds.sequences, vec![vec![0.5, 0.25, -1.0], vec![1.5, 2.0, 2.5], vec![3.0, 4.0, 5.0, 6.0], vec![-0.2]]);
    assert_eq!(ds.class_names, names(&["-1", "1", "2"]));
    assert_eq!(ds.targets, Targets::Classes(vec![1, 0, 2, 1]));
}

#[test]
fn csv_layouts_load() {
    let ds: SequenceDataset<f64> = load_any(fixture("long.csv")).unwrap();
    assert_eq!(ds.channels, 2);
    assert_eq!(ds.sequences, vec![vec![0.1, 1.0, 0.2, 1.1, 0.3, 1.2], vec![2.0, -0.5, 2.5, -1.0]]);
    assert_eq!(ds.targets, Targets::Classes(vec![0, 1]));
    assert_eq!(ds.class_names, names(&["walk", "run"]));

    let ds: SequenceDataset<f32> =
        load_csv(fixture("wide_regression.csv"), CsvLayout::Wide, TargetKind::Responses).unwrap();
    assert_eq!(ds.channels, 1);
    assert_eq!(ds.sequences, vec![vec![1.0, 2.0, 3.0, 4.0], vec![5.0, 6.0], vec![7.0]]);
    assert_eq!(ds.targets, Targets::Responses(vec![vec![3.5], vec![-1.0], vec![0.25]]));
}

#[test]
fn csv_long_errors() {
    let path = fixture("long.csv");
    // The fixture as responses: its labels are not numbers (line 3 holds walk-1's first row).
    file_error(load_csv::<f64>(&path, CsvLayout::Long, TargetKind::Responses), &path, "line 3: the label \"walk\"");
    // Read as the wide layout, its `sequence` column becomes a step holding text.
    file_error(load_csv::<f64>(&path, CsvLayout::Wide, TargetKind::Classes), &path, "is not a finite number");
}

#[test]
fn npz_loads_classes_with_names_and_padding() {
    let ds: SequenceDataset<f32> = load_any(fixture("classes.npz")).unwrap();
    assert_eq!(ds.channels, 2);
    assert_eq!(
        ds.sequences,
        vec![vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], vec![0.5, -0.5, 1.5, -1.5], vec![9.0, 10.0]]
    );
    assert_eq!(ds.targets, Targets::Classes(vec![2, 0, 1]));
    assert_eq!(ds.class_names, names(&["cat", "dog", "eel"]));
}

#[test]
fn compressed_fortran_npz_with_lengths_and_responses() {
    let ds: SequenceDataset<f64> = load_npz(fixture("responses_lengths.npz")).unwrap();
    assert_eq!(ds.channels, 1);
    assert_eq!(ds.sequences, vec![vec![1.0, 2.0, 3.0], vec![4.0]]);
    assert_eq!(ds.targets, Targets::Responses(vec![vec![0.5], vec![-2.0]]));
}

#[test]
fn npy_pair_loads() {
    let ds: SequenceDataset<f64> = load_npy(fixture("pair_x.npy"), fixture("pair_y.npy")).unwrap();
    assert_eq!(ds.len(), 3);
    assert_eq!(ds.steps(1), 2);
    assert_eq!(ds.targets, Targets::Classes(vec![2, 0, 1]));
    assert_eq!(ds.class_names, names(&["0", "1", "2"]));
    let x = fixture("pair_x.npy");
    file_error(load_any::<f32>(&x), &x, "load_npy");
}

#[test]
fn npz_errors_name_the_problem() {
    let cases = [
        ("no_x.npz", "the archive has no array `x`"),
        ("int_x.npz", "array `x` must be float32 or float64"),
        ("shapes_disagree.npz", "shapes disagree: x has 2 sequences but y has shape [3]"),
        ("truncated.npz", "not a readable .npz (zip) archive"),
        ("truncated_x.npz", "array `x` is truncated"),
    ];
    for (name, want) in cases {
        let path = fixture(name);
        file_error(load_npz::<f32>(&path), &path, want);
    }
}

#[test]
fn unknown_or_missing_files() {
    let path = fixture("messy_multivariate.arff");
    file_error(load_any::<f32>(&path), &path, "unknown data file extension `.arff`");
    let path = fixture("does_not_exist.ts");
    file_error(load_any::<f32>(&path), &path, "cannot read the file");
}

/// `load_any` reads both CSV layouts, telling them apart by the header (the README's "one
/// sequence per row" used to fail with "missing column 'sequence'").
#[test]
fn load_any_reads_both_csv_layouts() {
    let dir = tempfile::tempdir().unwrap();
    let wide = dir.path().join("wide.csv");
    std::fs::write(&wide, "# one sequence per row\nlabel,v0,v1,v2\nwalk,0.5,0.6,0.7\nrun,2.0,1.0,\n").unwrap();
    let ds: SequenceDataset<f32> = load_any(&wide).unwrap();
    assert_eq!(ds.sequences, vec![vec![0.5, 0.6, 0.7], vec![2.0, 1.0]]);
    assert_eq!(ds.class_names.len(), 2);
    let long: SequenceDataset<f32> = load_any(fixture("long.csv")).unwrap();
    assert!(long.channels >= 1 && long.len() >= 2);
}
