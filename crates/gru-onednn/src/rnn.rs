//! One oneDNN RNN primitive family for a *part* of the stack: consecutive layers that all
//! read the same width, every direction (`dnnl_bidirectional_concat` when bidirectional).
//! How a stack splits into parts (one SLC per primitive; one layer per part when
//! bidirectional) is `engine::split`.
//!
//! Per part and per `(n, t)` (group size, steps) the forward primitive (inference or
//! training) and the backward primitive (created with the training forward as its hint)
//! are created once and cached; the cache grows with every new `(n, t)` a caller uses.
//! Weights are given as `format_tag_any`: oneDNN picks the layout its kernels want, and
//! the user layout (`layout.rs`, ldgoi) is reordered into it once per parameter version
//! and cached by layout. What oneDNN 2.6 picks on x86-64 (f32, `ref` RNN with JIT GEMMs):
//! ldigo with its `G·O` rows padded for alignment for forward, ldgoi for backward; its
//! weight gradients come back ldigo (padded) and are reordered to ldgoi. Backward adds
//! into the weight-gradient buffers, so they are zeroed before each call.
//!
//! ```text
//! src_layer [t, n, SLC] tnc     src_iter / dst_iter [L, dirs, n, H] ldnc
//! dst_layer [t, n, dirs·H] tnc  bias [L, dirs, G, H] ldgo
//! ```

use std::collections::HashMap;

use gru_core::GruError;

use crate::dnnl::{Arg, Context, Primitive, PrimitiveDesc};
use crate::ffi::{self, MemoryDesc, RnnDesc};
use crate::layout::{Cell, PartWeights};

/// Forward propagation kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Prop {
    /// `dnnl_forward_inference`: no workspace.
    Inference,
    /// `dnnl_forward_training`: fills the workspace that backward reads.
    Training,
}

/// The layouts of one primitive's arguments, as its primitive descriptor reports them.
struct Layouts {
    src_layer: MemoryDesc,
    src_iter: MemoryDesc,
    weights_layer: MemoryDesc,
    weights_iter: MemoryDesc,
    bias: MemoryDesc,
    dst_layer: MemoryDesc,
    dst_iter: MemoryDesc,
    workspace: MemoryDesc,
}

impl Layouts {
    fn query(pd: &PrimitiveDesc) -> Self {
        Self {
            src_layer: pd.arg_md(ffi::ARG_SRC_LAYER),
            src_iter: pd.arg_md(ffi::ARG_SRC_ITER),
            weights_layer: pd.arg_md(ffi::ARG_WEIGHTS_LAYER),
            weights_iter: pd.arg_md(ffi::ARG_WEIGHTS_ITER),
            bias: pd.arg_md(ffi::ARG_BIAS),
            dst_layer: pd.arg_md(ffi::ARG_DST_LAYER),
            dst_iter: pd.arg_md(ffi::ARG_DST_ITER),
            workspace: pd.arg_md(ffi::ARG_WORKSPACE),
        }
    }
}

struct Forward {
    pd: PrimitiveDesc,
    prim: Primitive,
    mds: Layouts,
}

struct Backward {
    prim: Primitive,
    mds: Layouts,
    diff_weights_layer: MemoryDesc,
    diff_weights_iter: MemoryDesc,
    diff_bias: MemoryDesc,
}

/// The user-layout memory descriptors of a part's parameters.
struct UserLayouts {
    weights_layer: MemoryDesc,
    weights_iter: MemoryDesc,
    bias: MemoryDesc,
}

/// The part's weights reordered into one layout oneDNN asked for.
struct Converted {
    /// 0: weights_layer, 1: weights_iter (their layouts are equal when SLC == H).
    which: usize,
    md: MemoryDesc,
    data: Vec<f32>,
}

/// What a training forward of a part keeps for its backward.
pub struct PartRun {
    /// `[t, n, dirs·H]`.
    pub dst_layer: Vec<f32>,
    /// `[L, dirs, n, H]`.
    pub dst_iter: Vec<f32>,
    /// oneDNN's opaque workspace (empty for inference).
    pub workspace: Vec<f32>,
}

/// Gradients of a part for one group.
pub struct PartGrads {
    /// `[t, n, SLC]`.
    pub diff_src_layer: Vec<f32>,
    /// `[L, dirs, n, H]`.
    pub diff_src_iter: Vec<f32>,
    /// In the user layouts of [`PartWeights`].
    pub weights: PartWeights,
}

/// Which layers a part runs and how wide they are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PartShape {
    /// First block (`layer · dirs + dir`) of this part.
    pub first_block: usize,
    /// L: layers in this part.
    pub layers: usize,
    pub dirs: usize,
    /// A unidirectional part whose layers run right to left (`GruSpec::reverse`).
    pub reverse: bool,
    /// SLC: channels each of its layers reads.
    pub slc: usize,
    pub hidden: usize,
    pub cell: Cell,
}

impl PartShape {
    /// All-zero weights (or weight gradients) of this part, in the user layouts.
    pub fn zero_weights(&self) -> PartWeights {
        PartWeights::zeros(self.layers * self.dirs, self.slc, self.hidden, self.cell)
    }
}

/// Layers `first_block / dirs ..` of the stack, on one family of primitives.
pub struct Part {
    pub shape: PartShape,
    user: PartWeights,
    user_mds: UserLayouts,
    converted: Vec<Converted>,
    forward: HashMap<(Prop, usize, usize), Forward>,
    backward: HashMap<(usize, usize), Backward>,
}

fn f32_len(ctx: &Context, md: &MemoryDesc) -> usize {
    ctx.md_bytes(md).div_ceil(std::mem::size_of::<f32>())
}

impl Part {
    /// A part of shape `shape`, with its weights in the user layouts.
    pub fn new(ctx: &Context, shape: PartShape, user: PartWeights) -> Result<Self, GruError> {
        let PartShape { layers, dirs, slc, hidden, cell, .. } = shape;
        let user_mds = UserLayouts {
            weights_layer: ctx.md(&[layers, dirs, slc, 3, hidden], ffi::TAG_LDGOI)?,
            weights_iter: ctx.md(&[layers, dirs, hidden, 3, hidden], ffi::TAG_LDGOI)?,
            bias: ctx.md(&[layers, dirs, cell.bias_gates(), hidden], ffi::TAG_LDGO)?,
        };
        Ok(Self { shape, user, user_mds, converted: Vec::new(), forward: HashMap::new(), backward: HashMap::new() })
    }

    /// Blocks of this part: `first_block .. first_block + L·dirs`.
    pub fn blocks(&self) -> std::ops::Range<usize> {
        self.shape.first_block..self.shape.first_block + self.shape.layers * self.shape.dirs
    }

    /// Replaces the weights (a new parameter version): reordered copies are dropped.
    pub fn set_weights(&mut self, user: PartWeights) {
        self.user = user;
        self.converted.clear();
    }

    fn direction(&self) -> std::ffi::c_int {
        if self.shape.dirs == 2 {
            ffi::BIDIRECTIONAL_CONCAT
        } else if self.shape.reverse {
            ffi::RIGHT2LEFT
        } else {
            ffi::LEFT2RIGHT
        }
    }

    /// Data layouts for `(n, t)`: src_layer, src/dst_iter, dst_layer, and "any" weights.
    fn data_mds(&self, ctx: &Context, n: usize, t: usize) -> Result<[MemoryDesc; 6], GruError> {
        let (l, d, h) = (self.shape.layers, self.shape.dirs, self.shape.hidden);
        Ok([
            ctx.md(&[t, n, self.shape.slc], ffi::TAG_TNC)?,
            ctx.md(&[l, d, n, h], ffi::TAG_LDNC)?,
            ctx.md(&[l, d, self.shape.slc, 3, h], ffi::FORMAT_TAG_ANY)?,
            ctx.md(&[l, d, h, 3, h], ffi::FORMAT_TAG_ANY)?,
            ctx.md(&[t, n, d * h], ffi::TAG_TNC)?,
            ctx.md(&[l, d, n, h], ffi::TAG_LDNC)?,
        ])
    }

    /// Creates (once) the forward primitive for `(prop, n, t)`.
    pub fn ensure_forward(&mut self, ctx: &Context, prop: Prop, n: usize, t: usize) -> Result<(), GruError> {
        if self.forward.contains_key(&(prop, n, t)) {
            return Ok(());
        }
        let [src_layer, src_iter, w_layer, w_iter, dst_layer, dst_iter] = self.data_mds(ctx, n, t)?;
        let bias = self.user_mds.bias;
        let init = match self.shape.cell {
            Cell::Gru => ctx.api().gru_forward_desc_init,
            Cell::LbrGru => ctx.api().lbr_gru_forward_desc_init,
        };
        let kind = match prop {
            Prop::Inference => ffi::FORWARD_INFERENCE,
            Prop::Training => ffi::FORWARD_TRAINING,
        };
        let mut desc = RnnDesc::boxed_zero();
        // SAFETY: `desc` is a zeroed dnnl_rnn_desc_t of the header's size; every memory
        // descriptor was initialized by oneDNN and outlives the call.
        let status = unsafe {
            init(
                &mut *desc,
                kind,
                self.direction(),
                &src_layer,
                &src_iter,
                &w_layer,
                &w_iter,
                &bias,
                &dst_layer,
                &dst_iter,
                0,
            )
        };
        if status != ffi::SUCCESS {
            return Err(crate::dnnl::call_failed("dnnl_*gru_forward_desc_init", status));
        }
        let pd = ctx.primitive_desc(&desc, None)?;
        let prim = pd.primitive()?;
        let mds = Layouts::query(&pd);
        self.forward.insert((prop, n, t), Forward { pd, prim, mds });
        Ok(())
    }

    /// Creates (once) the backward primitive for `(n, t)` (and its training forward).
    pub fn ensure_backward(&mut self, ctx: &Context, n: usize, t: usize) -> Result<(), GruError> {
        if self.backward.contains_key(&(n, t)) {
            return Ok(());
        }
        self.ensure_forward(ctx, Prop::Training, n, t)?;
        let [src_layer, src_iter, w_layer, w_iter, dst_layer, dst_iter] = self.data_mds(ctx, n, t)?;
        let (l, d, h) = (self.shape.layers, self.shape.dirs, self.shape.hidden);
        let diff_w_layer = ctx.md(&[l, d, self.shape.slc, 3, h], ffi::FORMAT_TAG_ANY)?;
        let diff_w_iter = ctx.md(&[l, d, h, 3, h], ffi::FORMAT_TAG_ANY)?;
        let bias = self.user_mds.bias;
        let init = match self.shape.cell {
            Cell::Gru => ctx.api().gru_backward_desc_init,
            Cell::LbrGru => ctx.api().lbr_gru_backward_desc_init,
        };
        let mut desc = RnnDesc::boxed_zero();
        // SAFETY: as in `ensure_forward`; the diff descriptors mirror the forward ones.
        let status = unsafe {
            init(
                &mut *desc,
                ffi::BACKWARD,
                self.direction(),
                &src_layer,
                &src_iter,
                &w_layer,
                &w_iter,
                &bias,
                &dst_layer,
                &dst_iter,
                &src_layer,
                &src_iter,
                &diff_w_layer,
                &diff_w_iter,
                &bias,
                &dst_layer,
                &dst_iter,
                0,
            )
        };
        if status != ffi::SUCCESS {
            return Err(crate::dnnl::call_failed("dnnl_*gru_backward_desc_init", status));
        }
        let hint = &self.forward[&(Prop::Training, n, t)].pd;
        let pd = ctx.primitive_desc(&desc, Some(hint))?;
        let prim = pd.primitive()?;
        let mds = Layouts::query(&pd);
        if !ctx.md_equal(&pd.arg_md(ffi::ARG_DIFF_BIAS), &self.user_mds.bias) {
            return Err(GruError::Unsupported {
                engine: crate::dnnl::ENGINE.into(),
                field: "diff_bias layout".into(),
                value: "not ldgo".into(),
                reason: "this oneDNN build chose another bias gradient layout".into(),
            });
        }
        let bwd = Backward {
            prim,
            diff_weights_layer: pd.arg_md(ffi::ARG_DIFF_WEIGHTS_LAYER),
            diff_weights_iter: pd.arg_md(ffi::ARG_DIFF_WEIGHTS_ITER),
            diff_bias: pd.arg_md(ffi::ARG_DIFF_BIAS),
            mds,
        };
        self.backward.insert((n, t), bwd);
        Ok(())
    }

    /// Makes sure the weights exist in layouts `mds` (reordering the user layout once).
    fn convert(&mut self, ctx: &mut Context, mds: [&MemoryDesc; 2]) -> Result<(), GruError> {
        let users = [self.user_mds.weights_layer, self.user_mds.weights_iter];
        for (k, md) in mds.into_iter().enumerate() {
            if ctx.md_equal(md, &users[k]) || self.converted.iter().any(|c| c.which == k && ctx.md_equal(&c.md, md)) {
                continue;
            }
            let mut data = vec![0.0f32; f32_len(ctx, md)];
            let reorder = ctx.reorder(&users[k], md)?;
            let src = if k == 0 { &self.user.layer } else { &self.user.iter };
            ctx.execute(
                &reorder,
                &[Arg::input(ffi::ARG_FROM, &users[k], src), Arg::output(ffi::ARG_TO, md, &mut data)],
            )?;
            self.converted.push(Converted { which: k, md: *md, data });
        }
        Ok(())
    }

    /// Weights `which` (0 layer, 1 iter) in layout `md` (after [`Part::convert`]).
    fn weights_in(&self, ctx: &Context, which: usize, md: &MemoryDesc) -> &[f32] {
        let (user_md, user) = match which {
            0 => (&self.user_mds.weights_layer, &self.user.layer),
            _ => (&self.user_mds.weights_iter, &self.user.iter),
        };
        if ctx.md_equal(md, user_md) {
            user
        } else {
            self.converted.iter().find(|c| c.which == which && ctx.md_equal(&c.md, md)).map_or(&[][..], |c| &c.data)
        }
    }

    /// Runs the forward primitive on one group: `src_layer` `[t, n, SLC]`, `src_iter`
    /// `[L, dirs, n, H]`. Training also fills the workspace.
    pub fn forward(
        &mut self,
        ctx: &mut Context,
        prop: Prop,
        n: usize,
        t: usize,
        src_layer: &[f32],
        src_iter: &[f32],
    ) -> Result<PartRun, GruError> {
        let (l, d, h) = (self.shape.layers, self.shape.dirs, self.shape.hidden);
        let mut run =
            PartRun { dst_layer: vec![0.0; t * n * d * h], dst_iter: vec![0.0; l * d * n * h], workspace: Vec::new() };
        let PartRun { dst_layer, dst_iter, workspace } = &mut run;
        self.forward_into(ctx, prop, n, t, src_layer, src_iter, dst_layer, dst_iter, workspace)?;
        Ok(run)
    }

    /// [`Part::forward`] into the caller's buffers: `dst_layer` `[t, n, dirs·H]`,
    /// `dst_iter` `[L, dirs, n, H]`; `workspace` is sized here (emptied for inference).
    /// Once the primitive of `(prop, n, t)` exists and the weights are in its layouts (the
    /// first call), this allocates nothing on the Rust side (the stream step's calls).
    #[allow(clippy::too_many_arguments)]
    pub fn forward_into(
        &mut self,
        ctx: &mut Context,
        prop: Prop,
        n: usize,
        t: usize,
        src_layer: &[f32],
        src_iter: &[f32],
        dst_layer: &mut [f32],
        dst_iter: &mut [f32],
        workspace: &mut Vec<f32>,
    ) -> Result<(), GruError> {
        self.ensure_forward(ctx, prop, n, t)?;
        let (wl, wi) = {
            let m = &self.forward[&(prop, n, t)].mds;
            (m.weights_layer, m.weights_iter)
        };
        self.convert(ctx, [&wl, &wi])?;
        let f = &self.forward[&(prop, n, t)];
        workspace.resize(
            match prop {
                Prop::Inference => 0,
                Prop::Training => f32_len(ctx, &f.mds.workspace),
            },
            0.0,
        );
        let m = &f.mds;
        let args = [
            Arg::input(ffi::ARG_SRC_LAYER, &m.src_layer, src_layer),
            Arg::input(ffi::ARG_SRC_ITER, &m.src_iter, src_iter),
            Arg::input(ffi::ARG_WEIGHTS_LAYER, &m.weights_layer, self.weights_in(ctx, 0, &m.weights_layer)),
            Arg::input(ffi::ARG_WEIGHTS_ITER, &m.weights_iter, self.weights_in(ctx, 1, &m.weights_iter)),
            Arg::input(ffi::ARG_BIAS, &m.bias, &self.user.bias),
            Arg::output(ffi::ARG_DST_LAYER, &m.dst_layer, dst_layer),
            Arg::output(ffi::ARG_DST_ITER, &m.dst_iter, dst_iter),
            Arg::output(ffi::ARG_WORKSPACE, &m.workspace, workspace),
        ];
        // Inference takes no workspace argument.
        let count = if prop == Prop::Training { args.len() } else { args.len() - 1 };
        ctx.execute(&f.prim, &args[..count])
    }

    /// Runs the backward primitive on one group, for the forward `run` of the same inputs.
    #[allow(clippy::too_many_arguments)]
    pub fn backward(
        &mut self,
        ctx: &mut Context,
        n: usize,
        t: usize,
        src_layer: &[f32],
        src_iter: &[f32],
        run: &PartRun,
        diff_dst_layer: &[f32],
        diff_dst_iter: &[f32],
    ) -> Result<PartGrads, GruError> {
        self.ensure_backward(ctx, n, t)?;
        let (wl, wi) = {
            let m = &self.backward[&(n, t)].mds;
            (m.weights_layer, m.weights_iter)
        };
        self.convert(ctx, [&wl, &wi])?;
        let b = &self.backward[&(n, t)];
        let m = &b.mds;
        let mut diff_src_layer = vec![0.0; t * n * self.shape.slc];
        let mut diff_src_iter = vec![0.0; self.shape.layers * self.shape.dirs * n * self.shape.hidden];
        // Zeroed: oneDNN 2.x accumulates into the weight gradients.
        let mut dwl = vec![0.0; f32_len(ctx, &b.diff_weights_layer)];
        let mut dwi = vec![0.0; f32_len(ctx, &b.diff_weights_iter)];
        let mut grads = self.shape.zero_weights();
        let args = [
            Arg::input(ffi::ARG_SRC_LAYER, &m.src_layer, src_layer),
            Arg::input(ffi::ARG_SRC_ITER, &m.src_iter, src_iter),
            Arg::input(ffi::ARG_WEIGHTS_LAYER, &m.weights_layer, self.weights_in(ctx, 0, &m.weights_layer)),
            Arg::input(ffi::ARG_WEIGHTS_ITER, &m.weights_iter, self.weights_in(ctx, 1, &m.weights_iter)),
            Arg::input(ffi::ARG_BIAS, &m.bias, &self.user.bias),
            Arg::input(ffi::ARG_DST_LAYER, &m.dst_layer, &run.dst_layer),
            Arg::input(ffi::ARG_DST_ITER, &m.dst_iter, &run.dst_iter),
            Arg::input(ffi::ARG_WORKSPACE, &m.workspace, &run.workspace),
            Arg::input(ffi::ARG_DIFF_DST_LAYER, &m.dst_layer, diff_dst_layer),
            Arg::input(ffi::ARG_DIFF_DST_ITER, &m.dst_iter, diff_dst_iter),
            Arg::output(ffi::ARG_DIFF_SRC_LAYER, &m.src_layer, &mut diff_src_layer),
            Arg::output(ffi::ARG_DIFF_SRC_ITER, &m.src_iter, &mut diff_src_iter),
            Arg::output(ffi::ARG_DIFF_WEIGHTS_LAYER, &b.diff_weights_layer, &mut dwl),
            Arg::output(ffi::ARG_DIFF_WEIGHTS_ITER, &b.diff_weights_iter, &mut dwi),
            Arg::output(ffi::ARG_DIFF_BIAS, &b.diff_bias, &mut grads.bias),
        ];
        ctx.execute(&b.prim, &args)?;
        let users = [self.user_mds.weights_layer, self.user_mds.weights_iter];
        for (k, (md, data)) in [(&b.diff_weights_layer, dwl), (&b.diff_weights_iter, dwi)].into_iter().enumerate() {
            let out = if k == 0 { &mut grads.layer } else { &mut grads.iter };
            if ctx.md_equal(md, &users[k]) {
                *out = data;
            } else {
                let reorder = ctx.reorder(md, &users[k])?;
                ctx.execute(
                    &reorder,
                    &[Arg::input(ffi::ARG_FROM, md, &data), Arg::output(ffi::ARG_TO, &users[k], out)],
                )?;
            }
        }
        Ok(PartGrads { diff_src_layer, diff_src_iter, weights: grads })
    }
}
