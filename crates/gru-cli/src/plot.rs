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
use plotters::coord::ranged1d::ValueFormatter;
use plotters::coord::types::RangedCoordf64;
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

/// The title of a training plot: the command, the data set (the training file's name
/// without extension), the GRU layers and the task, for example
/// `gru train: GestureShapes_TRAIN · GRU 64, 2 layers, bidirectional · 4 classes`.
pub fn run_title<T: gru::Real>(command: &str, data: &Path, net: &gru::network::Network<T>) -> String {
    let set = data.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let grus: Vec<String> = net
        .gru_layers()
        .map(|g| {
            let mut s = format!("GRU {}", g.num_hidden_units());
            if g.depth() > 1 {
                s += &format!(", {} layers", g.depth());
            }
            if g.bidirectional() {
                s += ", bidirectional";
            }
            if g.reverse() {
                s += ", reverse";
            }
            s
        })
        .collect();
    let task = match net.head() {
        gru::network::Head::Classification { .. } => format!("{} classes", net.output_width()),
        gru::network::Head::Regression => format!("regression, {} output(s)", net.output_width()),
    };
    [format!("{command}: {set}"), grus.join(" + "), task]
        .into_iter()
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" · ")
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

/// Whether a panel's y axis is logarithmic: every value positive and spanning more than
/// two decades (a loss that falls from 2 to 0.003 is then readable along the whole run).
fn log_scale(panel: &Panel) -> bool {
    if panel.fixed_range.is_some() {
        return false;
    }
    let values = panel.training.iter().chain(&panel.validation).map(|&(_, v)| v);
    let (min, max) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    min > 0.0 && max.is_finite() && max / min > 100.0
}

/// The log-scale y range of a panel: the decades around its values.
fn log_y_range(panel: &Panel) -> (f64, f64) {
    let values = panel.training.iter().chain(&panel.validation).map(|&(_, v)| v);
    let (min, max) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    (10f64.powf(min.log10().floor()), 10f64.powf(max.log10().ceil()))
}

/// The epoch boundaries drawn: every k-th, k from 1, 2, 5, 10, 20, 50, ... the smallest that
/// leaves at most [`MAX_EPOCH_LINES`] (a run of 300 epochs gets a line every 20th).
fn thinned(epoch_starts: &[f64]) -> Vec<f64> {
    let k = epoch_stride(epoch_starts.len());
    // Epoch e + 1 starts at epoch_starts[e - 1]: keep the starts of epochs 1 + k, 1 + 2k, ...
    epoch_starts.iter().enumerate().filter(|(i, _)| (i + 1) % k == 0).map(|(_, &x)| x).collect()
}

/// k of [`thinned`] for `n` epoch boundaries.
fn epoch_stride(n: usize) -> usize {
    let mut k = 1;
    let steps = [1usize, 2, 5];
    'outer: for decade in 0.. {
        for s in steps {
            k = s * 10usize.pow(decade);
            if n.div_ceil(k) <= MAX_EPOCH_LINES {
                break 'outer;
            }
        }
    }
    k
}

/// At most this many epoch lines in a panel.
const MAX_EPOCH_LINES: usize = 20;

fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    panel: &Panel,
    (x0, x1): (f64, f64),
    epoch_starts: &[f64],
) -> Result<()> {
    let builder = |area| {
        let mut b = ChartBuilder::on(area);
        b.margin(12).margin_right(30).x_label_area_size(45).y_label_area_size(80);
        b
    };
    if log_scale(panel) {
        let (y0, y1) = log_y_range(panel);
        let chart = builder(area).build_cartesian_2d(x0..x1, (y0..y1).log_scale()).map_err(plot_err)?;
        fill_panel(chart, panel, (x0, x1), (y0, y1), epoch_starts, &format!("{} (log scale)", panel.y_desc))
    } else {
        let (y0, y1) = y_range(panel);
        let chart = builder(area).build_cartesian_2d(x0..x1, y0..y1).map_err(plot_err)?;
        fill_panel(chart, panel, (x0, x1), (y0, y1), epoch_starts, panel.y_desc)
    }
}

/// The mesh, the epoch lines, the curves and the legend of one panel, on a linear or a
/// logarithmic y axis.
fn fill_panel<'a, DB: DrawingBackend + 'a, Y: Ranged<ValueType = f64> + ValueFormatter<f64>>(
    mut chart: ChartContext<'a, DB, Cartesian2d<RangedCoordf64, Y>>,
    panel: &Panel,
    (x0, x1): (f64, f64),
    (y0, y1): (f64, f64),
    epoch_starts: &[f64],
    y_desc: &str,
) -> Result<()> {
    let x_desc = match (epoch_starts.len(), epoch_stride(epoch_starts.len())) {
        (0, _) => "Iteration".to_string(),
        (_, 1) => "Iteration (vertical lines: epochs)".to_string(),
        (_, k) => format!("Iteration (vertical lines: every {k} epochs)"),
    };
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        // Iterations are whole: at most one label per iteration, none between two.
        .x_labels(((x1 - x0).floor() as usize + 1).clamp(2, 10))
        .x_label_formatter(&|x| if (x - x.round()).abs() < 1e-9 { format!("{x:.0}") } else { String::new() })
        .y_label_formatter(&|y| format_tick(*y))
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 16))
        .light_line_style(BLACK.mix(0.04))
        .bold_line_style(BLACK.mix(0.12))
        .draw()
        .map_err(plot_err)?;

    let epoch_style = BLACK.mix(0.3).stroke_width(1);
    let lines = thinned(epoch_starts);
    let inside = lines.iter().filter(|&&x| x > x0 && x < x1);
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
        .margin(12)
        .legend_area_size(36)
        .label_font((FONT, 15))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.4))
        .draw()
        .map_err(plot_err)?;
    Ok(())
}

#[cfg(test)]
mod tests;
