//! Training-progress plots: the curves of a [`History`] written as a PNG or SVG file.
//!
//! Layout (1000×700 px): the title, then two panels one above the other:
//! 1. loss per iteration;
//! 2. accuracy in % (classification) or RMSE (regression); left out when the history has neither.
//!
//! In each panel the training value of every iteration is a thin line, and the validation
//! values are markers joined by a line at the iterations where validation ran. Light vertical
//! lines mark where each epoch after the first starts. Non-finite values are left out.
//!
//! Text is drawn with DejaVu Sans, built into the binary and registered from bytes (plotters'
//! `ab_glyph` feature), so rendering needs no system fonts and no fontconfig.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::{anyhow, bail, Result};
use gru::train::History;
use plotters::coord::Shift;
use plotters::prelude::*;

/// Picture size in pixels (width, height).
const SIZE: (u32, u32) = (1000, 700);
/// The font family name that plotters looks up; DejaVu Sans is registered under it.
const FONT: &str = "sans-serif";
/// MATLAB's training-progress colours: orange for loss, blue for accuracy/RMSE.
const LOSS_COLOR: RGBColor = RGBColor(217, 83, 25);
const METRIC_COLOR: RGBColor = RGBColor(0, 114, 189);
const VALIDATION_COLOR: RGBColor = RGBColor(40, 40, 40);

/// The file format, from the extension of the output path.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Format {
    Png,
    Svg,
}

/// The curves of one panel, as (iteration, value) points with finite values only.
#[derive(Debug)]
struct Panel {
    y_desc: &'static str,
    color: RGBColor,
    training: Vec<(f64, f64)>,
    validation: Vec<(f64, f64)>,
    /// A fixed y range (accuracy: 0–100 %); `None` fits the range to the values.
    fixed_range: Option<(f64, f64)>,
    legend_position: SeriesLabelPosition,
}

/// Writes the training curves of `history` to `path`; the format follows the extension:
/// `.png` (bitmap) or `.svg`.
///
/// Two panels, one above the other: (1) loss per iteration, training (thin line) and
/// validation (markers joined by a line, at the iterations where it ran); (2) accuracy in %
/// (classification) or RMSE (regression) the same way. Epoch boundaries are light vertical
/// lines. The file is written atomically: rendered to a temporary file in the same folder,
/// then renamed over `path`.
///
/// Errors: a history without iterations, an extension other than `.png`/`.svg`, a drawing or
/// I/O failure.
pub fn plot_history(history: &History, title: &str, path: &Path) -> Result<()> {
    if history.iterations.is_empty() {
        bail!("the training history has no iterations: nothing to plot");
    }
    let format = format_of(path)?;
    // Checked here: the drawing would name its temporary file, not `path`.
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if !dir.is_dir() {
        bail!("cannot write the plot {}: the directory {} does not exist", path.display(), dir.display());
    }
    register_font()?;
    let panels = panels(history);
    let x_range = x_range(history);
    let epoch_starts = epoch_starts(history);
    let tmp = temp_path(path);
    let drawn = match format {
        Format::Png => draw(BitMapBackend::new(&tmp, SIZE).into_drawing_area(), title, &panels, x_range, &epoch_starts),
        Format::Svg => draw(SVGBackend::new(&tmp, SIZE).into_drawing_area(), title, &panels, x_range, &epoch_starts),
    };
    let drawn = drawn.map_err(|e| anyhow!("cannot write the plot {}: {e}", path.display()));
    let done = drawn.and_then(|()| {
        std::fs::rename(&tmp, path).map_err(|e| anyhow!("cannot move the plot to {}: {e}", path.display()))
    });
    if done.is_err() {
        // The temporary file may not exist (the drawing failed before writing it).
        let _ = std::fs::remove_file(&tmp);
    }
    done
}

fn format_of(path: &Path) -> Result<Format> {
    let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("png") => Ok(Format::Png),
        Some("svg") => Ok(Format::Svg),
        _ => bail!("cannot tell the plot format of {}: name a .png or .svg file", path.display()),
    }
}

/// `dir/.name.ext.<pid>.tmp.ext`: same folder (so the rename is atomic) and same extension
/// (the bitmap backend picks the encoder from it).
fn temp_path(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let ext = path.extension().map(|e| e.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}.{}.tmp.{ext}", std::process::id()))
}

/// Registers DejaVu Sans (regular and bold) as plotters' `sans-serif` font, once per process.
fn register_font() -> Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular()).is_ok()
            && plotters::style::register_font(FONT, FontStyle::Bold, dejavu::sans::bold()).is_ok()
    });
    if ok {
        Ok(())
    } else {
        bail!("the built-in plot font (DejaVu Sans) could not be loaded")
    }
}

/// (iteration, value) points, leaving out missing and non-finite values.
fn points(records: impl Iterator<Item = (usize, Option<f64>)>, scale: f64) -> Vec<(f64, f64)> {
    records.filter_map(|(it, v)| v.map(|v| (it as f64, v * scale))).filter(|&(_, v)| v.is_finite()).collect()
}

/// The loss panel, then the accuracy panel (if any record has an accuracy) or else the RMSE
/// panel (if any record has an RMSE).
fn panels(h: &History) -> Vec<Panel> {
    let mut panels = vec![Panel {
        y_desc: "Loss",
        color: LOSS_COLOR,
        training: points(h.iterations.iter().map(|r| (r.iteration, Some(r.loss))), 1.0),
        validation: points(h.validations.iter().map(|r| (r.iteration, Some(r.loss))), 1.0),
        fixed_range: None,
        legend_position: SeriesLabelPosition::UpperRight,
    }];
    let has_accuracy =
        h.iterations.iter().any(|r| r.accuracy.is_some()) || h.validations.iter().any(|r| r.accuracy.is_some());
    let has_rmse = h.iterations.iter().any(|r| r.rmse.is_some()) || h.validations.iter().any(|r| r.rmse.is_some());
    if has_accuracy {
        panels.push(Panel {
            y_desc: "Accuracy (%)",
            color: METRIC_COLOR,
            training: points(h.iterations.iter().map(|r| (r.iteration, r.accuracy)), 100.0),
            validation: points(h.validations.iter().map(|r| (r.iteration, r.accuracy)), 100.0),
            fixed_range: Some((0.0, 100.0)),
            legend_position: SeriesLabelPosition::LowerRight,
        });
    } else if has_rmse {
        panels.push(Panel {
            y_desc: "RMSE",
            color: METRIC_COLOR,
            training: points(h.iterations.iter().map(|r| (r.iteration, r.rmse)), 1.0),
            validation: points(h.validations.iter().map(|r| (r.iteration, r.rmse)), 1.0),
            fixed_range: None,
            legend_position: SeriesLabelPosition::UpperRight,
        });
    }
    panels
}

/// The iterations spanned by all records, widened by one on each side when it is a single one.
fn x_range(h: &History) -> (f64, f64) {
    let its = h.iterations.iter().map(|r| r.iteration).chain(h.validations.iter().map(|r| r.iteration));
    let (lo, hi) = its.fold((usize::MAX, 0), |(lo, hi), it| (lo.min(it), hi.max(it)));
    let (lo, hi) = (lo as f64, hi as f64);
    if hi > lo {
        (lo, hi)
    } else {
        (lo - 1.0, hi + 1.0)
    }
}

/// Where each epoch after the first starts: half an iteration before its first iteration.
fn epoch_starts(h: &History) -> Vec<f64> {
    h.iterations.windows(2).filter(|w| w[1].epoch != w[0].epoch).map(|w| w[1].iteration as f64 - 0.5).collect()
}

/// The y range of a panel: fixed, or fitted to its values with 5 % headroom (from 0 when
/// every value is non-negative); (0, 1) when it has no values.
fn y_range(panel: &Panel) -> (f64, f64) {
    if let Some(range) = panel.fixed_range {
        return range;
    }
    let values = panel.training.iter().chain(&panel.validation).map(|&(_, v)| v);
    let (min, max) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if min > max {
        return (0.0, 1.0);
    }
    let lo = if min >= 0.0 { 0.0 } else { min };
    let span = max - lo;
    if span > 0.0 {
        let pad = 0.05 * span;
        (if min >= 0.0 { 0.0 } else { lo - pad }, max + pad)
    } else {
        let pad = if max.abs() > 0.0 { 0.1 * max.abs() } else { 1.0 };
        (lo - if min >= 0.0 { 0.0 } else { pad }, max + pad)
    }
}

/// A y tick label: short for round values (`90`, `0.5`), else up to 4 significant digits.
fn format_tick(y: f64) -> String {
    if y == y.round() && y.abs() < 1e6 {
        format!("{y:.0}")
    } else {
        let text = format!("{y:.4}");
        let trimmed = text.trim_end_matches('0').trim_end_matches('.');
        if trimmed == "0" || trimmed == "-0" || y.abs() >= 1e6 {
            format!("{y:.3e}")
        } else {
            trimmed.to_string()
        }
    }
}

fn plot_err(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("drawing the plot failed: {e}")
}

fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    title: &str,
    panels: &[Panel],
    x_range: (f64, f64),
    epoch_starts: &[f64],
) -> Result<()> {
    root.fill(&WHITE).map_err(plot_err)?;
    // The style goes in the tuple: `FontDesc::style` keeps the regular face's glyphs.
    let body = root.titled(title, (FONT, 26, FontStyle::Bold)).map_err(plot_err)?;
    let areas = body.split_evenly((panels.len(), 1));
    for (area, panel) in areas.iter().zip(panels) {
        draw_panel(area, panel, x_range, epoch_starts)?;
    }
    root.present().map_err(plot_err)
}

fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    panel: &Panel,
    (x0, x1): (f64, f64),
    epoch_starts: &[f64],
) -> Result<()> {
    let (y0, y1) = y_range(panel);
    let mut chart = ChartBuilder::on(area)
        .margin(10)
        .margin_right(30)
        .x_label_area_size(45)
        .y_label_area_size(75)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(plot_err)?;
    chart
        .configure_mesh()
        .x_desc("Iteration")
        .y_desc(panel.y_desc)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format_tick(*y))
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 16))
        .light_line_style(BLACK.mix(0.04))
        .bold_line_style(BLACK.mix(0.12))
        .draw()
        .map_err(plot_err)?;

    let epoch_style = BLACK.mix(0.3).stroke_width(1);
    let inside = epoch_starts.iter().filter(|&&x| x > x0 && x < x1);
    chart.draw_series(inside.map(|&x| PathElement::new(vec![(x, y0), (x, y1)], epoch_style))).map_err(plot_err)?;

    let training_style = panel.color.stroke_width(1);
    // A lone point draws no line: show it as a dot.
    let dot = if panel.training.len() == 1 { 3 } else { 0 };
    chart
        .draw_series(LineSeries::new(panel.training.iter().copied(), training_style).point_size(dot))
        .map_err(plot_err)?
        .label("Training")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], training_style));

    if !panel.validation.is_empty() {
        let style = VALIDATION_COLOR.stroke_width(2);
        chart
            .draw_series(LineSeries::new(panel.validation.iter().copied(), style).point_size(4))
            .map_err(plot_err)?
            .label("Validation")
            .legend(move |(x, y)| {
                EmptyElement::at((x + 12, y))
                    + PathElement::new(vec![(-12, 0), (12, 0)], style)
                    + Circle::new((0, 0), 4, style.filled())
            });
    }

    chart
        .configure_series_labels()
        .position(panel.legend_position.clone())
        .label_font((FONT, 14))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .draw()
        .map_err(plot_err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
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
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing").join("curves.png");
        let err = plot_history(&history(true), "x", &path).unwrap_err().to_string();
        assert!(err.contains("curves.png") && err.contains("does not exist"), "{err}");
        // The temporary file is `.curves.png.<pid>.tmp.png`.
        assert!(!err.contains(".curves.png."), "the error names the temporary file: {err}");
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
}
