//! From Korali JSON to a working GRU layer: defaults, Korali's initialization, engine,
//! mode and plan.

use gru::korali::{KoraliLayer, KoraliNetwork};
use gru::{EngineKind, Error, GruError, LayerInput, Mode, ResetGateMode};

fn first_gru(net: &KoraliNetwork) -> gru::korali::KoraliGru {
    match &net.layers[0] {
        KoraliLayer::Gru(g) => g.clone(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn korali_gru_builds_a_before_multiplication_layer_with_korali_initialization() {
    let text = r#"{"Engine": "Korali", "Mode": "Training", "Timestep Count": 5, "Batch Sizes": [16, 4],
        "Uniform Generator": {"Type": "Univariate/Uniform", "Minimum": -1.0, "Maximum": 1.0},
        "Layers": [{"Type": "Layer/Input", "Output Channels": 12},
                   {"Type": "Layer/Recurrent/GRU", "Output Channels": 48, "Depth": 2, "Weight Scaling": 0.5},
                   {"Type": "Layer/Output"}]}"#;
    let (net, warnings) = KoraliNetwork::from_str(text).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let gru = match &net.layers[1] {
        KoraliLayer::Gru(g) => g.clone(),
        other => panic!("{other:?}"),
    };
    let mut layer = gru.layer_builder::<f64>(&net, 12).seed(3).build().unwrap();
    assert_eq!(layer.reset_gate_mode(), ResetGateMode::BeforeMultiplication);
    assert_eq!((layer.num_hidden_units(), layer.depth(), layer.input_size()), (48, 2, Some(12)));
    assert_eq!((layer.engine(), layer.mode()), (EngineKind::Korali, Mode::Training));
    // Korali's Xavier: s·sqrt(6/(in + H))·U(-1, 1) for W and R, biases 0.
    let params = layer.params().unwrap();
    for (i, block) in params.blocks().iter().enumerate() {
        let inp = if i == 0 { 12 } else { 48 };
        let bound = 0.5 * (6.0f64 / (inp + 48) as f64).sqrt();
        for w in [block.w(), block.r()] {
            assert!(w.iter().all(|v| v.abs() <= bound));
            let var = w.iter().map(|v| v * v).sum::<f64>() / w.len() as f64;
            assert!((var / (bound * bound / 3.0) - 1.0).abs() < 0.1, "block {i}: variance {var}");
        }
        assert!(block.bias().iter().all(|&b| b == 0.0));
    }
    let x = vec![0.1; 5 * 4 * 12];
    let (out, saved) = layer.forward_train(&LayerInput::tbc(&x, 5, 4, 12)).unwrap();
    assert_eq!(out.out_dims, vec![5, 4, 48]);
    layer.backward(saved, &out.out, None).unwrap();
}

#[test]
fn inference_mode_refuses_backward_and_missing_engines_say_how_to_get_them() {
    let text = r#"{"Engine": "Korali", "Mode": "Inference",
        "Hidden Layers": [{"Type": "Layer/Recurrent/GRU", "Output Channels": 8,
                           "Reset Gate Mode": "recurrent-bias-after-multiplication"}]}"#;
    let (net, _) = KoraliNetwork::from_str(text).unwrap();
    let mut layer = first_gru(&net).layer_builder::<f32>(&net, 3).build().unwrap();
    assert_eq!(layer.reset_gate_mode(), ResetGateMode::RecurrentBiasAfterMultiplication);
    let x = vec![0.5f32; 2 * 3];
    layer.predict(&LayerInput::tbc(&x, 2, 1, 3)).unwrap();
    let err = layer.forward_train(&LayerInput::tbc(&x, 2, 1, 3)).unwrap_err();
    assert!(matches!(&err, Error::Core(GruError::ModeMismatch { mode, .. }) if mode == "Inference"), "{err}");
    assert!(err.to_string().contains("Inference"));

    // Where OneDNN is installed (in CI always), a Korali config that names it runs on it, in
    // Korali's precision (f32); CuDNN, without a GPU, says what is missing and how to get it.
    if gru_onednn::OneDnnEngine::load_or_skip("a Korali config naming OneDNN").unwrap().is_some() {
        let text = r#"{"Engine": "OneDNN", "Hidden Layers": [{"Type": "Layer/Recurrent/GRU", "Output Channels": 8}]}"#;
        let (net, _) = KoraliNetwork::from_str(text).unwrap();
        let mut layer = first_gru(&net).layer_builder::<f32>(&net, 3).build().unwrap();
        assert_eq!(layer.engine(), EngineKind::OneDNN);
        let out = layer.predict(&LayerInput::tbc(&x, 2, 1, 3)).unwrap();
        assert_eq!(out.computed_by, "OneDNN");
    }
    let text = r#"{"Engine": "CuDNN", "Hidden Layers": [{"Type": "Layer/Recurrent/GRU", "Output Channels": 8}]}"#;
    let (net, _) = KoraliNetwork::from_str(text).unwrap();
    match first_gru(&net).layer_builder::<f32>(&net, 3).build() {
        Ok(mut layer) => {
            assert!(gru_cudnn::CudnnEngine::load().is_ok());
            assert_eq!(layer.engine(), EngineKind::CuDNN);
            assert_eq!(layer.predict(&LayerInput::tbc(&x, 2, 1, 3)).unwrap().computed_by, "CuDNN");
        }
        Err(Error::EngineUnavailable { engine: e, remedy, .. }) => {
            assert_eq!(e, "CuDNN");
            assert!(remedy.contains("\"Engine\": \"Korali\"") && remedy.contains("cuDNN 9"), "{remedy}");
        }
        Err(other) => panic!("{other:?}"),
    }
    // A oneDNN library that does not load is the same typed error, naming the package.
    match gru::engines::onednn_from::<f32>("libdnnl-missing.so.2") {
        Err(Error::EngineUnavailable { engine, remedy, .. }) => {
            assert_eq!(engine, "OneDNN");
            assert!(remedy.contains("libdnnl2") && remedy.contains("\"Engine\": \"Korali\""), "{remedy}");
        }
        Err(other) => panic!("{other:?}"),
        Ok(_) => panic!("a missing library loaded"),
    }
}

#[test]
fn depth_works_for_any_input_size() {
    let (net, _) = KoraliNetwork::from_str(
        r#"{"Hidden Layers": [{"Type": "Layer/Recurrent/GRU", "Output Channels": 6, "Depth": 3}]}"#,
    )
    .unwrap();
    let mut layer = first_gru(&net).layer_builder::<f64>(&net, 2).build().unwrap();
    let x = vec![0.3; 4 * 2 * 2];
    let out = layer.predict(&LayerInput::tbc(&x, 4, 2, 2)).unwrap();
    assert_eq!(out.out_dims, vec![4, 2, 6]);
}
