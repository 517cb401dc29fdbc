//! The named rewrite rules that are not a primitive's adjoint (those are in each primitive's
//! descriptor, [`crate::op::PRIMITIVES`]), each citing the identity in `derivations/` that
//! proves it.

pub use crate::op::Rule;

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
