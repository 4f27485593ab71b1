//! `gru demo`: trains a GRU classifier on the shipped GestureShapes data set (built into
//! the binary), evaluates it on the test split, and writes the model, the history and the
//! training-curve plots.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use gru::layers;
use gru::network::{classification, fully_connected, gru, sequence_input_zscore, softmax, Network};
use gru::train::metrics::ClassificationReport;
use gru::train::{argmax_rows, predict, Trainer, TrainingOptions};
use gru::{OutputMode, Targets};

use crate::progress::Reporter;

const TRAIN: &str = include_str!("../../../../data/demo/GestureShapes_TRAIN.ts");
const TEST: &str = include_str!("../../../../data/demo/GestureShapes_TEST.ts");

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Folder for the data, model, history and plots.
    #[arg(long, default_value = "gru-demo")]
    pub out: PathBuf,
    #[arg(long, default_value_t = 80)]
    pub epochs: usize,
    #[arg(long, default_value_t = 64)]
    pub hidden: usize,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Print only the final result.
    #[arg(long)]
    pub quiet: bool,
}

pub fn run(a: &DemoArgs) -> Result<()> {
    let started = Instant::now();
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let (train_path, test_path) = (a.out.join("GestureShapes_TRAIN.ts"), a.out.join("GestureShapes_TEST.ts"));
    super::train::write_atomic(&train_path, TRAIN.as_bytes())?;
    super::train::write_atomic(&test_path, TEST.as_bytes())?;
    let missing = super::MissingArg::default();
    let train = super::load_data::<f32>(&train_path, &missing)?;
    let test = super::load_data::<f32>(&test_path, &missing)?;
    if !a.quiet {
        outln!(
            "GestureShapes: {} training and {} test sequences of 2 channels, {} classes ({})",
            train.len(),
            test.len(),
            train.class_names.len(),
            train.class_names.join(", ")
        );
    }
    let specs = layers![
        sequence_input_zscore(train.channels),
        gru(a.hidden).output_mode(OutputMode::Last),
        fully_connected(train.class_names.len()),
        softmax(),
        classification()
    ];
    let mut net = Network::<f32>::new(specs, a.seed)?;
    net.set_class_names(train.class_names.clone())?;
    let options = TrainingOptions {
        initial_learn_rate: Some(0.01),
        max_epochs: a.epochs,
        mini_batch_size: 32,
        validation_frequency: 25,
        seed: a.seed,
        ..TrainingOptions::default()
    };
    let mut trainer = Trainer::new(&net, options)?;
    let mut reporter = Reporter::new(a.quiet);
    let report = trainer.fit(&mut net, &train, Some(&test), &mut |p| reporter.report(p))?;
    reporter.finish();
    let model = a.out.join("model.safetensors");
    net.save(&model)?;
    let history = a.out.join("history.csv");
    super::train::write_atomic(&history, report.history.to_csv().as_bytes())?;
    let (png, svg) = (a.out.join("training.png"), a.out.join("training.svg"));
    let title = crate::plot::run_title("gru demo", &train_path, &net);
    crate::plot::plot_history(&report.history, &title, &png)?;
    crate::plot::plot_history(&report.history, &title, &svg)?;
    let out = predict(&mut net, &test.sequences, test.channels, 128)?;
    let pred: Vec<usize> = out.iter().map(|p| argmax_rows(p, net.output_width())[0]).collect();
    let Targets::Classes(truth) = &test.targets else { anyhow::bail!("the demo data are labelled") };
    let r = ClassificationReport::new(test.class_names.clone(), truth, &pred);
    if !a.quiet {
        outln!("{}", r.to_text());
    }
    outln!("test accuracy: {:.1}% (chance 25%)", 100.0 * r.accuracy);
    outln!(
        "trained {} epochs ({} iterations) in {:.1} s",
        report.epochs,
        report.iterations,
        started.elapsed().as_secs_f64()
    );
    outln!(
        "model: {}\nhistory: {}\nplots: {} and {}",
        model.display(),
        history.display(),
        png.display(),
        svg.display()
    );
    Ok(())
}
