//! Errors of the library, by domain. Every message is one line that names the input and says
//! what to do about it; the CLI prints it and exits with status 2.

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
