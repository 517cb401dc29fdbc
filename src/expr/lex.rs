//! The tokenizer: identifiers, numbers, and symbols, each with its 1-based column. Unicode
//! symbols are read as their ASCII spelling: `∘` = `@`, `ᵀ` = `'`, `·` = `*`, `⁺`… are not
//! used. A `#` starts a comment that runs to the end of the line.

use crate::error::{Error, Result};

/// A token kind.
#[derive(Clone, Debug, PartialEq)]
pub enum Tok {
    /// Identifier `[A-Za-z_][A-Za-z0-9_]*`.
    Ident(String),
    /// A number (integer or decimal, optional exponent).
    Num(f64),
    /// A symbol in its ASCII spelling: `[ ] ( ) , : = == @ + * ' -` (`-` only before numbers).
    Sym(&'static str),
    /// End of input.
    End,
}

/// A token and its 1-based column.
#[derive(Clone, Debug, PartialEq)]
pub struct Token {
    /// The token.
    pub tok: Tok,
    /// 1-based column (in characters).
    pub col: usize,
}

impl Tok {
    /// How the token is shown in error messages.
    pub fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("`{s}`"),
            Tok::Num(v) => format!("the number {v}"),
            Tok::Sym(s) => format!("`{s}`"),
            Tok::End => "the end of the input".to_string(),
        }
    }
}

/// Split `src` into tokens.
///
/// # Errors
/// [`Error::Parse`] at the column of a character that starts no token.
pub fn lex(src: &str, source_name: &str) -> Result<Vec<Token>> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let col = i + 1;
        if c == '#' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            continue;
        }
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push(Token {
                tok: Tok::Ident(chars[start..i].iter().collect()),
                col,
            });
            continue;
        }
        if c.is_ascii_digit() || (c == '.' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit()))
        {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            if i < chars.len() && (chars[i] == 'e' || chars[i] == 'E') {
                let mut j = i + 1;
                if j < chars.len() && (chars[j] == '+' || chars[j] == '-') {
                    j += 1;
                }
                if j < chars.len() && chars[j].is_ascii_digit() {
                    i = j;
                    while i < chars.len() && chars[i].is_ascii_digit() {
                        i += 1;
                    }
                }
            }
            let text: String = chars[start..i].iter().collect();
            let v: f64 = text.parse().map_err(|_| Error::Parse {
                source_name: source_name.to_string(),
                column: col,
                message: format!("`{text}` is not a number"),
            })?;
            out.push(Token {
                tok: Tok::Num(v),
                col,
            });
            continue;
        }
        let sym = match c {
            '[' => "[",
            ']' => "]",
            '(' => "(",
            ')' => ")",
            ',' => ",",
            ':' => ":",
            '@' | '∘' => "@",
            '+' => "+",
            '*' | '·' => "*",
            '\'' | 'ᵀ' => "'",
            '-' => "-",
            '=' => {
                if chars.get(i + 1) == Some(&'=') {
                    i += 1;
                    "=="
                } else {
                    "="
                }
            }
            _ => {
                return Err(Error::Parse {
                    source_name: source_name.to_string(),
                    column: col,
                    message: format!(
                        "unexpected character `{c}`; expected a name, a number or one of [ ] ( ) , : = == @ ∘ + * · ' ᵀ"
                    ),
                })
            }
        };
        i += 1;
        out.push(Token {
            tok: Tok::Sym(sym),
            col,
        });
    }
    out.push(Token {
        tok: Tok::End,
        col: chars.len() + 1,
    });
    Ok(out)
}
