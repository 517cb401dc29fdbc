//! The named rewrite rules, each citing the identity in `derivations/` that proves it.

/// A rewrite rule: what it does and the note identity that proves it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    /// Short name, e.g. `reverse composition`.
    pub name: &'static str,
    /// The note identity, e.g. `COMP-1`.
    pub note: &'static str,
    /// The identity in ASCII DSL form.
    pub statement: &'static str,
}

macro_rules! rule {
    ($id:ident, $name:expr, $note:expr, $stmt:expr) => {
        #[doc = concat!("`", $note, "`: `", $stmt, "`")]
        pub const $id: Rule = Rule {
            name: $name,
            note: $note,
            statement: $stmt,
        };
    };
}

rule!(
    COMPOSE,
    "reverse composition",
    "COMP-1",
    "(A @ B)' = B' @ A'"
);
rule!(SUM, "adjoint of a sum", "COMP-2", "(A + B)' = A' + B'");
rule!(SCALE, "adjoint of a scaling", "COMP-3", "(a * A)' = a * A'");
rule!(INVOLUTION, "adjoint of an adjoint", "COMP-4", "A'' = A");
rule!(IDENTITY, "identity is self-adjoint", "COMP-4", "id' = id");
rule!(
    ZERO_PAD,
    "zero_pad* = crop",
    "PAD-1",
    "zero_pad[p]' = crop[p]"
);
rule!(CROP, "crop* = zero_pad", "PAD-1", "crop[p]' = zero_pad[p]");
rule!(
    PAD_MODE,
    "pad_mode* = fold_mode",
    "MODE-1",
    "pad_reflect[p]' = fold_reflect[p]"
);
rule!(
    FOLD_MODE,
    "fold_mode* = pad_mode",
    "MODE-1",
    "fold_reflect[p]' = pad_reflect[p]"
);
rule!(FLIP, "flip is self-adjoint", "FLIP-1", "flip[k]' = flip[k]");
rule!(
    SUBSAMPLE,
    "subsample* = zero_insert",
    "STRIDE-1",
    "subsample[s]' = zero_insert[s]"
);
rule!(
    ZERO_INSERT,
    "zero_insert* = subsample",
    "STRIDE-1",
    "zero_insert[s]' = subsample[s]"
);
rule!(
    DILATE,
    "dilate* = dilate_adjoint",
    "DIL-1",
    "dilate[d]' = dilate_adjoint[d]"
);
rule!(
    DILATE_ADJ,
    "dilate_adjoint* = dilate",
    "DIL-1",
    "dilate_adjoint[d]' = dilate[d]"
);
rule!(
    CIRC,
    "circular convolution* = correlation",
    "CIRC-2",
    "circ(h)' = corr(h)"
);
rule!(
    CORR,
    "correlation* = circular convolution",
    "CIRC-2",
    "corr(h)' = circ(h)"
);
rule!(
    CIRC_GROUPS,
    "grouped circular convolution* = grouped correlation (block transpose)",
    "CHAN-2",
    "circ(h, groups=g)' = corr(h, groups=g)"
);
rule!(
    CORR_GROUPS,
    "grouped correlation* = grouped circular convolution (block transpose)",
    "CHAN-2",
    "corr(h, groups=g)' = circ(h, groups=g)"
);
rule!(
    CIRC_SIGNAL_GROUPS,
    "grouped weight view* = grouped correlation with the signal",
    "CHAN-2",
    "circ_signal(x, groups=g)' = corr_signal(x, groups=g)"
);
rule!(
    CORR_SIGNAL_GROUPS,
    "grouped correlation with the signal* = grouped weight view",
    "CHAN-2",
    "corr_signal(x, groups=g)' = circ_signal(x, groups=g)"
);
rule!(
    CIRC_SIGNAL,
    "weight view* = correlation with the signal",
    "SWAP-2",
    "circ_signal(x)' = corr_signal(x)"
);
rule!(
    CORR_SIGNAL,
    "correlation with the signal* = weight view",
    "SWAP-2",
    "corr_signal(x)' = circ_signal(x)"
);
rule!(
    MIX,
    "channel mixing* = block transpose",
    "CHAN-1",
    "mix(A)' = mix_t(A)"
);
rule!(
    MIX_T,
    "block transpose* = channel mixing",
    "CHAN-1",
    "mix_t(A)' = mix(A)"
);
rule!(
    GROUP_TRANSPOSE,
    "group_transpose* = its inverse",
    "TRANS-2",
    "group_transpose[g]' = group_transpose[g]"
);
rule!(
    BROADCAST,
    "broadcast* = sum",
    "BIAS-1",
    "broadcast' = sum_nc"
);
rule!(SUM_NC, "sum* = broadcast", "BIAS-1", "sum_nc' = broadcast");
rule!(
    SWAP,
    "bilinear swap (weight view)",
    "SWAP-1",
    "circ(h) (x) = circ_signal(x) (h)"
);
rule!(
    CROP_PAD,
    "crop after zero_pad cancels",
    "PAD-2",
    "crop[p] @ zero_pad[p] = id"
);
rule!(
    MERGE_PADS,
    "adjacent zero_pads merge",
    "PAD-2",
    "zero_pad[a] @ zero_pad[b] = zero_pad[a+b]"
);
rule!(
    MERGE_CROPS,
    "adjacent crops merge",
    "PAD-2",
    "crop[a] @ crop[b] = crop[a+b]"
);
rule!(
    FLIP_FLIP,
    "flip is an involution",
    "FLIP-1",
    "flip[k] @ flip[k] = id"
);
rule!(
    SUB_INSERT,
    "subsample undoes zero_insert",
    "STRIDE-2",
    "subsample[s] @ zero_insert[s] = id"
);
rule!(
    DILATE_BACK,
    "dilate_adjoint undoes dilate",
    "DIL-1",
    "dilate_adjoint[d] @ dilate[d] = id"
);
rule!(
    GT_GT,
    "group_transpose twice is the identity",
    "TRANS-2",
    "group_transpose[g] @ group_transpose[g] = id"
);
rule!(
    DROP_ID,
    "identity drops out of a chain",
    "COMP-4",
    "A @ id = A"
);
rule!(
    SCALE_MERGE,
    "scalings merge",
    "COMP-3",
    "a * (b * A) = (a b) * A"
);
