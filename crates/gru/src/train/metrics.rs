//! Evaluation metrics: confusion matrix, per-class precision and recall, accuracy; RMSE
//! and MAE for regression.

use serde::Serialize;

/// A classification report over `K` classes.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClassificationReport {
    pub class_names: Vec<String>,
    /// `confusion[true][predicted]` counts.
    pub confusion: Vec<Vec<usize>>,
    pub accuracy: f64,
    /// Per class: correct / predicted as that class (`None` when never predicted).
    pub precision: Vec<Option<f64>>,
    /// Per class: correct / truly that class (`None` when absent from the data).
    pub recall: Vec<Option<f64>>,
}

impl ClassificationReport {
    /// From true and predicted class indices (each `< class_names.len()`).
    pub fn new(class_names: Vec<String>, truth: &[usize], predicted: &[usize]) -> Self {
        let k = class_names.len();
        let mut confusion = vec![vec![0usize; k]; k];
        for (&t, &p) in truth.iter().zip(predicted) {
            if t < k && p < k {
                confusion[t][p] += 1;
            }
        }
        let total: usize = confusion.iter().flatten().sum();
        let correct: usize = (0..k).map(|c| confusion[c][c]).sum();
        let ratio = |num: usize, den: usize| (den > 0).then(|| num as f64 / den as f64);
        let precision = (0..k).map(|c| ratio(confusion[c][c], (0..k).map(|t| confusion[t][c]).sum())).collect();
        let recall = (0..k).map(|c| ratio(confusion[c][c], confusion[c].iter().sum())).collect();
        Self { class_names, confusion, accuracy: ratio(correct, total).unwrap_or(0.0), precision, recall }
    }

    /// A plain-text table: accuracy, per-class precision/recall, the confusion matrix.
    pub fn to_text(&self) -> String {
        let pct = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{:.1}%", 100.0 * v));
        let w = self.class_names.iter().map(String::len).max().unwrap_or(5).max(9);
        let mut s = format!("accuracy: {:.2}%\n\n{:<w$}  precision  recall  support\n", 100.0 * self.accuracy, "class");
        for (c, name) in self.class_names.iter().enumerate() {
            let support: usize = self.confusion[c].iter().sum();
            s += &format!("{name:<w$}  {:>9}  {:>6}  {support:>7}\n", pct(self.precision[c]), pct(self.recall[c]));
        }
        s += &format!("\nconfusion matrix (rows: true class, columns: predicted)\n{:<w$}", "");
        for name in &self.class_names {
            s += &format!(" {name:>8.8}");
        }
        s.push('\n');
        for (c, name) in self.class_names.iter().enumerate() {
            s += &format!("{name:<w$}");
            for v in &self.confusion[c] {
                s += &format!(" {v:>8}");
            }
            s.push('\n');
        }
        s
    }
}

/// Regression errors.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct RegressionReport {
    /// Mean squared error over every value, `Σ (y - t)² / count` (Korali's test MSE).
    pub mse: f64,
    pub rmse: f64,
    pub mae: f64,
    pub count: usize,
}

impl RegressionReport {
    /// Over paired predictions and targets (flattened).
    pub fn new(predicted: &[f64], truth: &[f64]) -> Self {
        let n = predicted.len().min(truth.len());
        let (mut sq, mut abs) = (0.0, 0.0);
        for (p, t) in predicted.iter().zip(truth) {
            sq += (p - t) * (p - t);
            abs += (p - t).abs();
        }
        let d = n.max(1) as f64;
        Self { mse: sq / d, rmse: (sq / d).sqrt(), mae: abs / d, count: n }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confusion_precision_recall() {
        let names = vec!["a".to_string(), "b".to_string(), "c".to_string()];
        let r = ClassificationReport::new(names, &[0, 0, 1, 1, 2], &[0, 1, 1, 1, 0]);
        assert_eq!(r.confusion, vec![vec![1, 1, 0], vec![0, 2, 0], vec![1, 0, 0]]);
        assert_eq!(r.accuracy, 0.6);
        assert_eq!(r.precision, vec![Some(0.5), Some(2.0 / 3.0), None]);
        assert_eq!(r.recall, vec![Some(0.5), Some(1.0), Some(0.0)]);
        assert!(r.to_text().contains("accuracy: 60.00%"));
        let g = RegressionReport::new(&[1.0, 2.0], &[1.0, 4.0]);
        assert_eq!((g.mse, g.rmse, g.mae), (2.0, 2.0f64.sqrt(), 1.0));
    }
}
