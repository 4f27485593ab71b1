use super::*;
use gru::train::{IterationRecord, ValidationRecord};

const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];

/// 50 iterations in 5 epochs of 10: falling loss, rising accuracy (or falling RMSE),
/// validation every 10 iterations; one non-finite training loss at iteration 25.
fn history(classification: bool) -> History {
    let metric = |i: f64, offset: f64| {
        if classification {
            (Some((1.0 - 0.9 * (-i / 12.0).exp() - offset).clamp(0.0, 1.0)), None)
        } else {
            (None, Some(1.5 * (-i / 20.0).exp() + offset))
        }
    };
    let iterations = (1..=50)
        .map(|i| {
            let x = i as f64;
            let wiggle = 0.05 * (x * 1.7).sin();
            let (accuracy, rmse) = metric(x, wiggle.abs());
            IterationRecord {
                epoch: (i - 1) / 10 + 1,
                iteration: i,
                loss: if i == 25 { f64::NAN } else { 2.0 * (-x / 15.0).exp() + 0.1 + wiggle },
                accuracy,
                rmse,
                learn_rate: 0.01,
            }
        })
        .collect();
    let validations = (1..=5)
        .map(|e| {
            let i = 10 * e;
            let x = i as f64;
            let (accuracy, rmse) = metric(x, 0.04);
            ValidationRecord { epoch: e, iteration: i, loss: 2.0 * (-x / 15.0).exp() + 0.18, accuracy, rmse }
        })
        .collect();
    History { iterations, validations }
}

fn only_entry(dir: &Path) -> PathBuf {
    let entries: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(entries.len(), 1, "expected one file, found {entries:?}");
    entries.into_iter().next().unwrap()
}

#[test]
fn png_has_the_signature_and_size_and_leaves_no_temp_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("curves.png");
    plot_history(&history(true), "Training progress", &path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(bytes[..8], PNG_SIGNATURE);
    // The first chunk is IHDR: length (4), "IHDR" (4), width (4, big-endian), height (4).
    assert_eq!(&bytes[12..16], b"IHDR");
    let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    assert_eq!((width, height), SIZE);
    assert!(bytes.len() > 10_000, "a plot with text and curves is not tiny: {} bytes", bytes.len());
    assert_eq!(only_entry(dir.path()), path);
}

#[test]
fn svg_has_the_title_axes_and_legend() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("curves.SVG");
    plot_history(&history(true), "My GRU run", &path).unwrap();
    let svg = std::fs::read_to_string(&path).unwrap();
    assert!(svg.contains("<svg"), "{svg}");
    assert!(svg.trim_end().ends_with("</svg>"));
    for text in ["My GRU run", "Iteration", "Loss", "Accuracy (%)", "Training", "Validation"] {
        assert!(svg.contains(text), "missing {text:?}");
    }
    assert_eq!(only_entry(dir.path()), path);
}

#[test]
fn regression_plots_rmse() {
    let dir = tempfile::tempdir().unwrap();
    let svg_path = dir.path().join("regression.svg");
    plot_history(&history(false), "Regression", &svg_path).unwrap();
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    assert!(svg.contains("RMSE") && !svg.contains("Accuracy"));
    let png_path = dir.path().join("regression.png");
    plot_history(&history(false), "Regression", &png_path).unwrap();
    assert_eq!(std::fs::read(&png_path).unwrap()[..8], PNG_SIGNATURE);
}

#[test]
fn overwrites_an_existing_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("curves.svg");
    std::fs::write(&path, "old").unwrap();
    plot_history(&history(true), "Again", &path).unwrap();
    assert!(std::fs::read_to_string(&path).unwrap().contains("Again"));
}

#[test]
fn loss_only_history_and_single_iteration_work() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = history(true);
    h.iterations.truncate(1);
    h.validations.clear();
    h.iterations[0].accuracy = None;
    let path = dir.path().join("one.png");
    plot_history(&h, "One step", &path).unwrap();
    assert_eq!(std::fs::read(&path).unwrap()[..8], PNG_SIGNATURE);
    assert_eq!(panels(&h).len(), 1);
    assert_eq!(x_range(&h), (0.0, 2.0));
}

#[test]
fn all_non_finite_values_still_plot() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = history(false);
    for r in &mut h.iterations {
        r.loss = f64::INFINITY;
        r.rmse = Some(f64::NAN);
    }
    h.validations.clear();
    let path = dir.path().join("nan.svg");
    plot_history(&h, "Diverged", &path).unwrap();
    assert!(std::fs::read_to_string(&path).unwrap().contains("Diverged"));
}

#[test]
fn empty_history_is_an_error_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.png");
    let err = plot_history(&History::default(), "Empty", &path).unwrap_err();
    assert!(err.to_string().contains("no iterations"), "{err}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn a_missing_directory_is_named_not_the_temporary_file() {
    // A folder whose name has no ".tmp" (tempfile's default prefix), so that the check
    // below sees only the plot's own temporary file (".curves.png.<pid>.tmp.png").
    let dir = tempfile::Builder::new().prefix("plots").tempdir().unwrap();
    let path = dir.path().join("missing").join("curves.png");
    let err = plot_history(&history(true), "x", &path).unwrap_err().to_string();
    assert!(err.contains("curves.png") && err.contains("does not exist"), "{err}");
    assert!(!err.contains(".tmp") && !err.contains(".curves.png."), "the error names the temporary file: {err}");
}

#[test]
fn unknown_extension_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["curves.jpg", "curves"] {
        let err = plot_history(&history(true), "x", &dir.path().join(name)).unwrap_err();
        assert!(err.to_string().contains(".png or .svg"), "{err}");
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn non_finite_points_are_skipped() {
    let h = history(true);
    let loss = &panels(&h)[0];
    assert_eq!(loss.training.len(), 49);
    assert!(loss.training.iter().all(|&(it, v)| it != 25.0 && v.is_finite()));
    assert_eq!(loss.validation.len(), 5);
}

#[test]
fn epoch_starts_fall_between_epochs() {
    assert_eq!(epoch_starts(&history(true)), vec![10.5, 20.5, 30.5, 40.5]);
}

#[test]
fn tick_labels_are_short() {
    assert_eq!(format_tick(90.0), "90");
    assert_eq!(format_tick(0.5), "0.5");
    assert_eq!(format_tick(0.30000000000000004), "0.3");
    assert_eq!(format_tick(-1.25), "-1.25");
    assert_eq!(format_tick(0.000002), "2.000e-6");
}

#[test]
fn y_range_fits_the_values() {
    let panel = |values: &[f64], fixed_range| Panel {
        y_desc: "",
        color: BLACK,
        training: values.iter().enumerate().map(|(i, &v)| (i as f64, v)).collect(),
        validation: vec![],
        fixed_range,
        legend_position: SeriesLabelPosition::UpperRight,
    };
    assert_eq!(y_range(&panel(&[1.0, 3.0], None)), (0.0, 3.15));
    assert_eq!(y_range(&panel(&[1.0, 3.0], Some((0.0, 100.0)))), (0.0, 100.0));
    assert_eq!(y_range(&panel(&[], None)), (0.0, 1.0));
    assert_eq!(y_range(&panel(&[0.0, 0.0], None)), (0.0, 1.0));
    let (lo, hi) = y_range(&panel(&[-2.0, 2.0], None));
    assert!((lo + 2.2).abs() < 1e-12 && (hi - 2.2).abs() < 1e-12, "{lo} {hi}");
}

#[test]
fn loss_spanning_more_than_two_decades_is_log_scale() {
    let mut h = history(true);
    assert!(!log_scale(&panels(&h)[0]), "2.1 -> 0.15 spans one decade");
    for r in &mut h.iterations {
        r.loss = 3.0 * (-(r.iteration as f64) / 5.0).exp();
    }
    let loss = &panels(&h)[0];
    assert!(log_scale(loss));
    let (lo, hi) = log_y_range(loss);
    assert!(lo <= 3.0 * (-10.0f64).exp() && hi >= 3.0 && lo > 0.0, "{lo} {hi}");
    assert!(!log_scale(&panels(&h)[1]), "accuracy keeps its 0-100 % axis");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.svg");
    plot_history(&h, "Falling fast", &path).unwrap();
    assert!(std::fs::read_to_string(&path).unwrap().contains("Loss (log scale)"));
}

#[test]
fn epoch_lines_are_thinned_to_at_most_twenty() {
    let starts = |n: usize| (1..n).map(|e| e as f64 * 10.0 - 0.5).collect::<Vec<_>>();
    assert_eq!(thinned(&starts(5)), starts(5));
    assert_eq!(thinned(&starts(21)).len(), 20);
    for epochs in [22, 41, 100, 300, 1000, 12345] {
        let kept = thinned(&starts(epochs));
        assert!((1..=MAX_EPOCH_LINES).contains(&kept.len()), "{epochs} epochs: {} lines", kept.len());
    }
    // 100 epochs: every 5th boundary, at the starts of epochs 6, 11, ...
    assert_eq!(thinned(&starts(100))[..2], [49.5, 99.5]);
}
