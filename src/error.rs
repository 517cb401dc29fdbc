//! Errors of the library, by domain. Every message is one line that names the input and says
//! what to do about it; the CLI prints it and exits with status 2.
//!
//! A caller branches on the variant and its typed fields, not on the text:
//!
//! ```
//! use fftconv::{Error, Tensor};
//! let x = Tensor::<f64>::zeros(&[2, 3]);
//! match x.expect_shape(&[3, 2], "x") {
//!     Err(Error::Shape { expected, got, .. }) => assert_eq!((expected, got), (vec![3, 2], vec![2, 3])),
//!     other => panic!("{other:?}"),
//! }
//! match fftconv::limits::parse_size("lots") {
//!     Err(Error::Field { name, value, .. }) => assert_eq!((name.as_str(), value.as_str()), ("memory size", "lots")),
//!     other => panic!("{other:?}"),
//! }
//! match fftconv::nn::idx::read(std::path::Path::new("/no/such/file")) {
//!     Err(Error::Io { kind, .. }) => assert_eq!(kind, std::io::ErrorKind::NotFound),
//!     other => panic!("{other:?}"),
//! }
//! ```

use thiserror::Error;

/// Everything that can go wrong in fftconv on user input.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum Error {
    /// A tensor's shape does not fit what an operator or layer expects.
    #[error("{context}: shape {got:?} does not fit, expected {expected:?}")]
    Shape {
        /// Who complained (operator, layer, tensor name).
        context: String,
        /// The shape that was expected.
        expected: Vec<usize>,
        /// The shape that was given.
        got: Vec<usize>,
    },
    /// A parameter (stride, padding, groups, …) has a value that cannot work.
    #[error("{context}: {message}")]
    Invalid {
        /// The parameter or input that is wrong, e.g. `stride[1]` or `case.toml: groups`.
        context: String,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// Something would need more memory than allowed by the [`Limits`](crate::limits::Limits)
    /// in force.
    #[error("{context}: needs {bytes} bytes, more than the limit of {limit} bytes; use a smaller problem or raise the limit")]
    TooLarge {
        /// What would be allocated.
        context: String,
        /// Bytes it would need.
        bytes: u128,
        /// The limit in force.
        limit: u128,
    },
    /// A field of a layer spec or of another set of parameters has a value that its rule
    /// refuses (e.g. a zero stride, a size that is not a size).
    #[error("{name}: {rule}")]
    Field {
        /// The field, e.g. `stride[1]` or `memory size`.
        name: String,
        /// The value given, as written.
        value: String,
        /// What the rule says about it and how to fix it (the message, naming the value).
        rule: String,
    },
    /// A file could not be read or written: the operating system's error.
    #[error("{path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// The cause, to branch on (`NotFound`, `PermissionDenied`, …).
        kind: std::io::ErrorKind,
        /// The operating system's message.
        message: String,
    },
    /// A file could not be read, written or understood.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: String,
        /// What is wrong with it.
        message: String,
    },
    /// Text (DSL or TOML) could not be parsed.
    #[error("{source_name}:{column}: {message}")]
    Parse {
        /// Name of the input (e.g. `expression`).
        source_name: String,
        /// 1-based column of the problem.
        column: usize,
        /// What was expected.
        message: String,
    },
    /// A tensor holds NaN or infinity where finite numbers are required.
    #[error("tensor `{name}` holds the non-finite value {value} at index {index:?}; inputs must be finite")]
    NonFinite {
        /// Tensor name.
        name: String,
        /// Multi-index of the first offending element.
        index: Vec<usize>,
        /// The value found.
        value: f64,
    },
}

impl Error {
    /// Shorthand for [`Error::Invalid`].
    pub fn invalid(context: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Invalid {
            context: context.into(),
            message: message.into(),
        }
    }

    /// Shorthand for [`Error::Shape`].
    pub fn shape(context: impl Into<String>, expected: &[usize], got: &[usize]) -> Self {
        Error::Shape {
            context: context.into(),
            expected: expected.to_vec(),
            got: got.to_vec(),
        }
    }

    /// Shorthand for [`Error::Field`].
    pub fn field(
        name: impl Into<String>,
        value: impl std::fmt::Display,
        rule: impl Into<String>,
    ) -> Self {
        Error::Field {
            name: name.into(),
            value: value.to_string(),
            rule: rule.into(),
        }
    }

    /// [`Error::Io`] for an I/O failure on `path`.
    pub fn io(path: impl std::fmt::Display, err: &std::io::Error) -> Self {
        Error::Io {
            path: path.to_string(),
            kind: err.kind(),
            message: err.to_string(),
        }
    }

    /// Shorthand for [`Error::File`].
    pub fn file(path: impl std::fmt::Display, message: impl Into<String>) -> Self {
        Error::File {
            path: path.to_string(),
            message: message.into(),
        }
    }
}

/// Result with the library's [`Error`](enum@Error).
pub type Result<T> = std::result::Result<T, Error>;
