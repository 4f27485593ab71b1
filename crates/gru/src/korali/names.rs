//! The names Korali knows: layer types, activation functions, output transformations and
//! the keys that Korali accepts but that carry nothing this project uses. Each list names the
//! Korali file it comes from (github.com/cselab/korali, `source/modules/...`).

/// `"Type"` of the GRU layer (`neuralNetwork/layer/recurrent/gru`).
pub const GRU: &str = "Layer/Recurrent/GRU";
/// `"Type"` of the LSTM layer (`neuralNetwork/layer/recurrent/lstm`): refused here.
pub const LSTM: &str = "Layer/Recurrent/LSTM";
/// `"Type"` of the recurrent layer of older Korali versions, with `"Mode": "GRU" | "LSTM"`
/// (`neuralNetwork/layer/recurrent/recurrent.config` before the GRU/LSTM split).
pub const LEGACY_RECURRENT: &str = "Layer/Recurrent";
/// `"Type"` of the dense layer `y = W x + b` (`neuralNetwork/layer/linear`).
pub const LINEAR: &str = "Layer/Linear";
/// `"Type"` of the activation layer (`neuralNetwork/layer/activation`).
pub const ACTIVATION: &str = "Layer/Activation";
/// `"Type"` of the first layer, whose `"Output Channels"` is the input size (`layer/input`).
pub const INPUT: &str = "Layer/Input";
/// `"Type"` of the last layer: output transformations, scale, shift (`layer/output`).
pub const OUTPUT: &str = "Layer/Output";

/// Layer types that exist in Korali but that this project does not implement
/// (`neuralNetwork/layer/{convolution,deconvolution,pooling,resampling}`).
pub const UNSUPPORTED_LAYER_TYPES: [&str; 4] =
    ["Layer/Convolution", "Layer/Deconvolution", "Layer/Pooling", "Layer/Resampling"];

/// Every layer type Korali knows, for suggestions.
pub const ALL_LAYER_TYPES: [&str; 11] = [
    GRU,
    LSTM,
    LEGACY_RECURRENT,
    LINEAR,
    ACTIVATION,
    INPUT,
    OUTPUT,
    "Layer/Convolution",
    "Layer/Deconvolution",
    "Layer/Pooling",
    "Layer/Resampling",
];

/// `"Function"` of `Layer/Activation` (`layer/activation/activation.config` and the option
/// check of the generated `activation.cpp`; `Elementwise/SoftReLU` is in the latter only).
pub const ACTIVATION_FUNCTIONS: [&str; 9] = [
    "Elementwise/Clip",
    "Elementwise/Linear",
    "Elementwise/Log",
    "Elementwise/Logistic",
    "Elementwise/ReLU",
    "Elementwise/SoftReLU",
    "Elementwise/SoftSign",
    "Elementwise/Tanh",
    "Softmax",
];

/// Entries of `"Transformation Mask"` of `Layer/Output` (`layer/output/output._cpp`).
pub const OUTPUT_TRANSFORMATIONS: [&str; 5] = ["Identity", "Absolute", "Softplus", "Tanh", "Sigmoid"];

/// Per-output boolean masks of older Korali versions (`layer/output/output.config`), replaced
/// by `"Transformation Mask"`: accepted only when no entry is `true`.
pub const LEGACY_OUTPUT_MASKS: [&str; 4] = ["Absolute Mask", "Tanh Mask", "Softplus Mask", "Sigmoid Mask"];

/// `"Engine"` (`neuralNetwork/neuralNetwork.config`).
pub const ENGINES: [&str; 3] = ["Korali", "OneDNN", "CuDNN"];
/// `"Mode"` (`neuralNetwork/neuralNetwork.config`).
pub const MODES: [&str; 2] = ["Training", "Inference"];

/// `"Type"` of `"Uniform Generator"` (`neuralNetwork.config` module defaults).
pub const UNIFORM: &str = "Univariate/Uniform";

/// Keys of the NeuralNetwork module (and of a Korali experiment) that change nothing here:
/// results, internal state, data and output settings. Accepted with a warning, never saved.
pub const IGNORED_NETWORK_KEYS: [&str; 6] =
    ["Results", "Current Training Loss", "Input Values", "Output Values", "Console Output", "File Output"];

/// Keys every layer may carry that change nothing here (`"Index"` is the layer's position,
/// `"Results"` is erased by every Korali module). `"Dropout Probability"` is handled apart.
pub const IGNORED_LAYER_KEYS: [&str; 2] = ["Results", "Index"];

/// Keys of a Korali distribution (`distribution/distribution.config`) that change nothing here.
pub const IGNORED_DISTRIBUTION_KEYS: [&str; 4] = ["Name", "Random Seed", "Range", "Results"];

/// Keys of the DeepSupervisor solver's `"Neural Network"` section that another part of this
/// project consumes (`solver/learner/deepSupervisor/deepSupervisor.config`): kept verbatim.
pub const SOLVER_KEYS: [&str; 3] = ["Optimizer", "Output Activation", "Output Layer"];

/// Our extension: the reset-gate mode of a GRU layer (Korali names none).
pub const RESET_GATE_MODE: &str = "Reset Gate Mode";

/// Our extension: the regularizers of a GRU layer ([`gru_core::Regularization`]), in the
/// order they are written: input dropout, recurrent dropout, zoneout and weight drop
/// (probabilities in [0, 1)), layer normalization (a boolean), the masks' seed.
pub const REGULARIZATION_KEYS: [&str; 6] =
    ["Input Dropout", "Recurrent Dropout", "Zoneout", "Weight Drop", "Layer Normalization", "Regularization Seed"];
