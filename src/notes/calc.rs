//! Numbers in the notes: a small calculator for the worked examples, used twice.
//!
//! - In ```` ```check ```` blocks, `val NAME = EXPR` binds a value and `value EXPR = EXPR`
//!   (or `<`, `>`) is a claim. Functions run the library where it has the operation (the conv
//!   layer forward and gradients through the FFT chain *and* the direct loops, the real FFT),
//!   and the definitions of the notes otherwise (pad, crop, flip, circular convolution by its
//!   sum); adjoints (`fold_*`, `rfft_adj`) are computed as transposes of dense matrices, not by
//!   their formulas.
//! - In the prose, `$…$` spans are split at `=`/`≈` and every piece that is plain arithmetic
//!   (numbers, `+ − · ×`, `\frac`, powers, tuples `(1, 2)`, complex `2+2i`) is evaluated
//!   (see [`super::prose`]).
//!
//! A number written with `d` decimals stands for itself rounded: it matches within half a unit
//! of its last digit; an integer matches to 1e-9.

use crate::conv::{self, Algorithm};
use crate::expr::claim::{parse_statement, Statement};
use crate::expr::layer::Layer;
use crate::tensor::Tensor;
use num_complex::Complex64 as C;
use std::collections::HashMap;

mod fast;

/// A value: a string (a layer) or an array of complex numbers (real ones have zero imaginary
/// parts) with a shape (`[]` for a scalar).
#[derive(Clone, Debug, PartialEq)]
pub enum Val {
    /// An array.
    Arr {
        /// Shape; empty for a scalar.
        shape: Vec<usize>,
        /// Row-major entries.
        data: Vec<C>,
        /// Per entry: how far a written (rounded) number may be from the exact one.
        tol: Vec<f64>,
    },
    /// A string, e.g. a layer `conv1d(x: [1, 1, 5], w: [1, 1, 3])`.
    Str(String),
}

/// A number token met while parsing: its byte range in the source.
pub type Span = (usize, usize);

fn scalar(v: C, tol: f64) -> Val {
    Val::Arr {
        shape: vec![],
        data: vec![v],
        tol: vec![tol],
    }
}

fn vector(data: Vec<C>) -> Val {
    let n = data.len();
    Val::Arr {
        shape: vec![n],
        data,
        tol: vec![0.0; n],
    }
}

fn real(v: Vec<f64>) -> Val {
    vector(v.into_iter().map(|r| C::new(r, 0.0)).collect())
}

impl Val {
    fn squeeze(self) -> Val {
        match self {
            Val::Arr { data, tol, .. } if data.len() == 1 => Val::Arr {
                shape: vec![],
                data,
                tol,
            },
            v => v,
        }
    }
    /// The entries, or an error for a string.
    pub fn data(&self) -> Result<&[C], String> {
        match self {
            Val::Arr { data, .. } => Ok(data),
            Val::Str(s) => Err(format!("`{s}` is a string, expected numbers")),
        }
    }
    fn tol(&self) -> Vec<f64> {
        match self {
            Val::Arr { tol, .. } => tol.clone(),
            Val::Str(_) => vec![],
        }
    }
    fn reals(&self) -> Result<Vec<f64>, String> {
        let d = self.data()?;
        if d.iter().any(|c| c.im.abs() > 1e-9 * (1.0 + c.re.abs())) {
            return Err("expected real numbers".into());
        }
        Ok(d.iter().map(|c| c.re).collect())
    }
    fn usize(&self) -> Result<usize, String> {
        let r = self.reals()?;
        match r.as_slice() {
            [v] if *v >= 0.0 && v.fract() == 0.0 => Ok(*v as usize),
            _ => Err("expected a non-negative integer".into()),
        }
    }
    /// Number of entries (1 for a scalar).
    pub fn len(&self) -> usize {
        self.data().map_or(0, |d| d.len())
    }
    /// Is it empty?
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Printed compactly.
    pub fn show(&self) -> String {
        match self {
            Val::Str(s) => format!("\"{s}\""),
            Val::Arr { shape, data, .. } => {
                let f = |c: &C| {
                    let r = fmt_num(c.re);
                    if c.im.abs() < 1e-12 * (1.0 + c.re.abs()) {
                        r
                    } else {
                        format!(
                            "{r}{}{}i",
                            if c.im < 0.0 { "-" } else { "+" },
                            fmt_num(c.im.abs())
                        )
                    }
                };
                let items: Vec<String> = data.iter().map(f).collect();
                if shape.is_empty() {
                    items.join("")
                } else {
                    format!("[{}]", items.join(", "))
                }
            }
        }
    }
}

fn fmt_num(v: f64) -> String {
    if v == v.round() && v.abs() < 1e15 {
        format!("{v:.0}")
    } else if v.abs() >= 1e-4 && v.abs() < 1e6 {
        let s = format!("{v:.10}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        format!("{v:.4e}")
    }
}

/// Do two values agree, entry by entry (flattened), within the written numbers' rounding?
pub fn agree(a: &Val, b: &Val) -> bool {
    let (Ok(da), Ok(db)) = (a.data(), b.data()) else {
        return a == b;
    };
    if da.len() != db.len() {
        return false;
    }
    let (ta, tb) = (a.tol(), b.tol());
    // Exact numbers agree to 1e-12 of the largest entry of either side (the roundoff of an
    // entry that is zero in exact arithmetic is relative to the rest of its array): a lone
    // `2^{-53}` is not `3^{-53}`, and `1007681536` is not `1007681537`.
    let vscale = da.iter().chain(db).fold(0.0f64, |m, c| m.max(c.norm()));
    da.iter().zip(db).enumerate().all(|(i, (x, y))| {
        // A rounded number against an exact one: its rounding; two rounded ones: the finer.
        let t = if ta[i] == 0.0 || tb[i] == 0.0 {
            ta[i].max(tb[i])
        } else {
            ta[i].min(tb[i])
        };
        // Exact numbers agree to 1e-9 absolute (roundoff of an exact zero); a written rounded
        // number only to its rounding, so `3.7e-16` does not match `3.64e-16`.
        let scale = x.norm().max(y.norm());
        let t = if t > 0.0 {
            t + 1e-12 * scale
        } else {
            1e-12 * vscale
        };
        (x.re - y.re).abs() <= t && (x.im - y.im).abs() <= t
    })
}

// ---------------------------------------------------------------- tokens and parser

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    /// Value, decimals relative to units (`3.6e-16`: 17; `None` for an exact number without a
    /// decimal point), span, imaginary.
    Num(f64, Option<i32>, Span, bool),
    Ident(String),
    Str(String),
    Sym(char),
    Frac,
    End,
}

/// Tokenise; `latex` accepts TeX spacing, braces as parentheses, `\cdot`, `\times`, `\frac`.
fn lex(src: &str, latex: bool) -> Result<Vec<Tok>, String> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let Some(c) = src[i..].chars().next() else {
            break;
        };
        let w = c.len_utf8();
        if c.is_whitespace() {
            i += w;
            continue;
        }
        if c.is_ascii_digit() || (c == '.' && b.get(i + 1).is_some_and(u8::is_ascii_digit)) {
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            let mut dec = 0;
            if i < b.len() && b[i] == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit) {
                i += 1;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                    dec += 1;
                }
            }
            let mut end = i;
            let mut exponent = 0i32;
            if !latex && i < b.len() && (b[i] == b'e' || b[i] == b'E') {
                let mut j = i + 1;
                if j < b.len() && (b[j] == b'-' || b[j] == b'+') {
                    j += 1;
                }
                if j < b.len() && b[j].is_ascii_digit() {
                    while j < b.len() && b[j].is_ascii_digit() {
                        j += 1;
                    }
                    exponent = src[i + 1..j].parse().unwrap_or(0);
                    end = j;
                    i = j;
                }
            }
            let v: f64 = src[start..end]
                .parse()
                .map_err(|_| format!("bad number `{}`", &src[start..end]))?;
            let imag = i < b.len()
                && b[i] == b'i'
                && !b.get(i + 1).is_some_and(|c| c.is_ascii_alphanumeric());
            if imag {
                i += 1;
            }
            // A written `3.6e-16` is rounded at its last digit, 1e-17, not at 0.1.
            let decimals = (dec > 0).then_some(dec - exponent);
            out.push(Tok::Num(v, decimals, (start, end), imag));
            continue;
        }
        if latex && c == '\\' {
            let start = i + 1;
            let mut j = start;
            while j < b.len() && b[j].is_ascii_alphabetic() {
                j += 1;
            }
            if j == start && b.get(start) == Some(&b'\\') {
                // A matrix row break.
                out.extend([Tok::Sym(']'), Tok::Sym(','), Tok::Sym('[')]);
                i = start + 1;
                continue;
            }
            if j == start {
                // `\ `, `\,`, `\;`, `\!`: spacing; anything else (`\|`) is not arithmetic.
                if !matches!(b.get(start), Some(b' ' | b',' | b';' | b'!' | b':')) {
                    return Err("not arithmetic".into());
                }
                i = (start + 1).min(b.len());
                continue;
            }
            let cmd = &src[start..j];
            i = j;
            match cmd {
                "cdot" | "times" => out.push(Tok::Sym('*')),
                "frac" | "tfrac" | "dfrac" => out.push(Tok::Frac),
                "lfloor" => out.push(Tok::Ident("\\lfloor".into())),
                "rfloor" => out.push(Tok::Sym(')')),
                "left" | "right" | "quad" | "qquad" | "big" | "Big" => {}
                "begin" | "end" if src[i..].starts_with("{pmatrix}") => {
                    i += "{pmatrix}".len();
                    let s = if cmd == "begin" { '[' } else { ']' };
                    out.extend([Tok::Sym(s), Tok::Sym(s)]);
                }
                _ => return Err(format!("`\\{cmd}` is not arithmetic")),
            }
            continue;
        }
        if latex && c.is_ascii_alphabetic() {
            // TeX: one letter a name (`2x_{i-1}` is 2 · x_{i-1}).
            out.push(Tok::Ident(c.to_string()));
            i += 1;
            continue;
        }
        if latex && c == '_' {
            out.push(Tok::Sym('_'));
            i += 1;
            continue;
        }
        if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            if i == start {
                return Err(format!("unexpected `{c}`"));
            }
            out.push(Tok::Ident(src[start..i].to_string()));
            continue;
        }
        if c == '"' && !latex {
            let end = src[i + 1..].find('"').ok_or("unterminated string")?;
            out.push(Tok::Str(src[i + 1..i + 1 + end].to_string()));
            i += end + 2;
            continue;
        }
        let sym = match c {
            '−' | '–' => '-',
            '·' | '×' => '*',
            '{' if latex => '(',
            '&' if latex => ',',
            '}' if latex => ')',
            '+' | '-' | '*' | '/' | '^' | '(' | ')' | '[' | ']' | ',' | '=' => c,
            '|' => return Err("`|` is not arithmetic".into()),
            _ => return Err(format!("unexpected `{c}`")),
        };
        out.push(Tok::Sym(sym));
        i += w;
    }
    out.push(Tok::End);
    Ok(out)
}

/// Bindings visible to an expression.
pub type Env = HashMap<String, Val>;

struct Parser<'a> {
    toks: Vec<Tok>,
    pos: usize,
    latex: bool,
    env: &'a Env,
    /// Number tokens used, with their decimals.
    pub spans: Vec<Span>,
    /// The extent of the first indexed array (the range of a free index).
    first_len: Option<usize>,
    /// Did the TeX read a bound name?
    used_name: bool,
}

type R<T> = Result<T, String>;

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        &self.toks[self.pos]
    }
    fn next(&mut self) -> Tok {
        let t = self.toks[self.pos].clone();
        if self.pos + 1 < self.toks.len() {
            self.pos += 1;
        }
        t
    }
    fn eat(&mut self, c: char) -> bool {
        if self.peek() == &Tok::Sym(c) {
            self.next();
            true
        } else {
            false
        }
    }
    fn expr(&mut self) -> R<Val> {
        let mut v = self.term()?;
        loop {
            if self.eat('+') {
                v = binop(&v, &self.term()?, '+')?;
            } else if self.eat('-') {
                v = binop(&v, &self.term()?, '-')?;
            } else {
                return Ok(v);
            }
        }
    }
    fn starts_atom(&self) -> bool {
        matches!(
            self.peek(),
            Tok::Num(..) | Tok::Frac | Tok::Sym('(') | Tok::Ident(_)
        )
    }
    fn term(&mut self) -> R<Val> {
        let mut v = self.unary()?;
        loop {
            if self.eat('*') {
                v = binop(&v, &self.unary()?, '*')?;
            } else if self.eat('/') {
                v = binop(&v, &self.unary()?, '/')?;
            } else if self.latex && self.starts_atom() {
                v = binop(&v, &self.power()?, '*')?;
            } else {
                return Ok(v);
            }
        }
    }
    fn unary(&mut self) -> R<Val> {
        if self.eat('-') {
            let v = self.unary()?;
            return binop(&scalar(C::new(-1.0, 0.0), 0.0), &v, '*');
        }
        if self.eat('+') {
            return self.unary();
        }
        self.power()
    }
    fn power(&mut self) -> R<Val> {
        let base = self.atom()?;
        if self.eat('^') {
            let e = self.unary()?;
            return binop(&base, &e, '^');
        }
        Ok(base)
    }
    fn list(&mut self, close: char) -> R<Vec<Val>> {
        let mut items = Vec::new();
        if self.eat(close) {
            return Ok(items);
        }
        loop {
            items.push(self.expr()?);
            if self.eat(',') {
                continue;
            }
            if self.eat(close) {
                return Ok(items);
            }
            return Err(format!("expected `,` or `{close}`"));
        }
    }
    fn atom(&mut self) -> R<Val> {
        match self.next() {
            Tok::Num(v, dec, span, imag) => {
                self.spans.push(span);
                let tol = dec.map_or(0.0, |d| 0.5 * 10f64.powi(-d));
                Ok(scalar(
                    if imag { C::new(0.0, v) } else { C::new(v, 0.0) },
                    tol,
                ))
            }
            Tok::Frac => {
                // `\frac14` (two digits) or `\frac{a}{b}`.
                if let Tok::Num(v, None, span, false) = self.peek().clone() {
                    let text = v.to_string();
                    if text.len() == 2 {
                        self.next();
                        self.spans.push(span);
                        let (a, b) = (
                            text[..1].parse::<f64>().unwrap_or(0.0),
                            text[1..].parse::<f64>().unwrap_or(1.0),
                        );
                        return Ok(scalar(C::new(a / b, 0.0), 0.0));
                    }
                }
                let a = self.atom()?;
                let b = self.atom()?;
                binop(&a, &b, '/')
            }
            Tok::Sym('(') => {
                let items = self.list(')')?;
                match <[Val; 1]>::try_from(items) {
                    Ok([one]) => Ok(one),
                    Err(items) if items.is_empty() => Err("empty parentheses".into()),
                    Err(items) => stack(items),
                }
            }
            Tok::Sym('[') => {
                let items = self.list(']')?;
                stack(items)
            }
            Tok::Str(s) if !self.latex => Ok(Val::Str(s)),
            Tok::Ident(s) if self.latex && self.env.contains_key(&s) => {
                let v = self.env[&s].clone();
                self.used_name = true;
                if !self.eat('_') {
                    return Ok(v);
                }
                // `x_3`, `x_i`, `x_{i-1}`: an entry, the index taken mod the extent. Only
                // numbers and the index letters i, j, k, m make an index (`x_P` is a name).
                if let Tok::Ident(n) = self.peek() {
                    if !["i", "j", "k", "m"].contains(&n.as_str()) {
                        return Err(format!("`{s}_{n}` is a name, not an entry"));
                    }
                }
                let ix = self.atom()?;
                let d = v.data()?;
                if d.len() < 2 {
                    return Err("indexing a scalar".into());
                }
                self.first_len.get_or_insert(d.len());
                let k = ix.reals()?;
                let [k] = k[..] else {
                    return Err("a tuple index".into());
                };
                if k.fract() != 0.0 {
                    return Err("a fractional index".into());
                }
                let n = d.len() as f64;
                Ok(scalar(d[k.rem_euclid(n) as usize], 0.0))
            }
            Tok::Ident(s) if s == "\\lfloor" => {
                let v = self.expr()?;
                if !self.eat(')') {
                    return Err("expected `\\rfloor`".into());
                }
                let d = v.reals()?;
                Ok(real(d.into_iter().map(f64::floor).collect::<Vec<_>>()).squeeze())
            }
            Tok::Ident(s) if s == "i" => Ok(scalar(C::new(0.0, 1.0), 0.0)),
            Tok::Ident(s) if !self.latex => {
                if self.eat('(') {
                    let mut args = Vec::new();
                    let mut kw = Vec::new();
                    if !self.eat(')') {
                        loop {
                            if let (Tok::Ident(k), Tok::Sym('=')) =
                                (self.peek().clone(), self.toks[self.pos + 1].clone())
                            {
                                self.next();
                                self.next();
                                kw.push((k, self.expr()?));
                            } else {
                                args.push(self.expr()?);
                            }
                            if self.eat(',') {
                                continue;
                            }
                            if self.eat(')') {
                                break;
                            }
                            return Err("expected `,` or `)` in the arguments".into());
                        }
                    }
                    call(&s, &args, &kw)
                } else {
                    self.env
                        .get(&s)
                        .cloned()
                        .ok_or_else(|| format!("`{s}` is not bound (write `val {s} = …` first)"))
                }
            }
            t => Err(format!("unexpected {t:?}")),
        }
    }
}

fn stack(items: Vec<Val>) -> R<Val> {
    let mut shape0: Option<Vec<usize>> = None;
    let mut data = Vec::new();
    let mut tol = Vec::new();
    for it in &items {
        match it {
            Val::Arr {
                shape,
                data: d,
                tol: t,
            } => {
                if shape0.get_or_insert(shape.clone()) != shape {
                    return Err("ragged list".into());
                }
                data.extend_from_slice(d);
                tol.extend_from_slice(t);
            }
            Val::Str(_) => return Err("a string in a list".into()),
        }
    }
    let mut shape = vec![items.len()];
    shape.extend(shape0.unwrap_or_default());
    Ok(Val::Arr { shape, data, tol })
}

fn binop(a: &Val, b: &Val, op: char) -> R<Val> {
    let (
        Val::Arr {
            shape: sa,
            data: da,
            tol: ta,
        },
        Val::Arr {
            shape: sb,
            data: db,
            tol: tb,
        },
    ) = (a, b)
    else {
        return Err(format!("`{op}` needs numbers"));
    };
    let f = |x: C, y: C| -> C {
        match op {
            '+' => x + y,
            '-' => x - y,
            '*' => x * y,
            '/' => x / y,
            _ => {
                if y.im == 0.0 && y.re.fract() == 0.0 {
                    x.powi(y.re as i32)
                } else {
                    x.powc(y)
                }
            }
        }
    };
    // A written number's rounding survives only negation, `m·10^e` and adding exact parts.
    let t = |x: C, tx: f64, y: C, ty: f64| -> f64 {
        match op {
            '+' | '-' if tx == 0.0 || ty == 0.0 => tx.max(ty),
            '+' | '-' => tx.min(ty),
            '*' if tx == 0.0 && ty == 0.0 => 0.0,
            '*' => (tx * y.norm()).max(ty * x.norm()),
            '/' if tx == 0.0 && ty == 0.0 => 0.0,
            '/' => tx / y.norm().max(1e-300) + ty * x.norm() / y.norm_sqr().max(1e-300),
            _ if tx == 0.0 => 0.0,
            _ => tx * f(x, y).norm() / x.norm().max(1e-300),
        }
    };
    if sa == sb || (da.len() == db.len() && da.len() > 1) {
        Ok(Val::Arr {
            shape: sa.clone(),
            data: da.iter().zip(db).map(|(x, y)| f(*x, *y)).collect(),
            tol: (0..da.len())
                .map(|i| t(da[i], ta[i], db[i], tb[i]))
                .collect(),
        })
    } else if da.len() == 1 {
        Ok(Val::Arr {
            shape: sb.clone(),
            data: db.iter().map(|y| f(da[0], *y)).collect(),
            tol: (0..db.len())
                .map(|i| t(da[0], ta[0], db[i], tb[i]))
                .collect(),
        })
    } else if db.len() == 1 {
        Ok(Val::Arr {
            shape: sa.clone(),
            data: da.iter().map(|x| f(*x, db[0])).collect(),
            tol: (0..da.len())
                .map(|i| t(da[i], ta[i], db[0], tb[0]))
                .collect(),
        })
    } else {
        Err(format!("shapes {sa:?} and {sb:?} do not match for `{op}`"))
    }
}

/// Evaluate a claim-side expression.
///
/// # Errors
/// A message when it does not parse or a function fails.
pub fn eval(src: &str, env: &Env) -> R<Val> {
    let mut p = Parser {
        toks: lex(src, false)?,
        pos: 0,
        latex: false,
        env,
        spans: Vec::new(),
        first_len: None,
        used_name: false,
    };
    let v = p.expr()?;
    if p.peek() != &Tok::End {
        return Err(format!("unexpected {:?} after the expression", p.peek()));
    }
    Ok(v)
}

/// Evaluate a piece of TeX prose as plain arithmetic; the value and the byte ranges of the
/// numbers it read. `None` when it is not plain arithmetic (names, operators, …).
pub fn eval_tex(src: &str) -> Option<(Val, Vec<Span>)> {
    eval_tex_in(src, &Env::new()).map(|(v, s, _)| (v, s))
}

/// [`eval_tex`] with one-letter names bound (`x_{i-1}` reads an entry of `x`); also returns the
/// extent of the first array indexed.
pub fn eval_tex_in(src: &str, env: &Env) -> Option<(Val, Vec<Span>, Option<usize>)> {
    let mut p = Parser {
        toks: lex(src, true).ok()?,
        pos: 0,
        latex: true,
        env,
        spans: Vec::new(),
        first_len: None,
        used_name: false,
    };
    let v = p.expr().ok()?;
    if p.peek() != &Tok::End || (p.spans.is_empty() && !p.used_name) {
        return None;
    }
    Some((v, p.spans, p.first_len))
}

// ---------------------------------------------------------------- functions

fn arg<'a>(args: &'a [Val], i: usize, f: &str) -> R<&'a Val> {
    args.get(i)
        .ok_or_else(|| format!("`{f}` needs argument {}", i + 1))
}

fn kwarg(kw: &[(String, Val)], name: &str) -> Option<Val> {
    kw.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
}

fn cvec(v: &Val) -> R<Vec<C>> {
    Ok(v.data()?.to_vec())
}

fn idx(i: isize, n: usize) -> usize {
    i.rem_euclid(n as isize) as usize
}

/// The index map of a padding mode: for each padded position, the source index or `None`.
fn pad_map(mode: &str, n: usize, lo: usize, hi: usize) -> R<Vec<Option<usize>>> {
    (0..n + lo + hi)
        .map(|i| {
            let j = i as isize - lo as isize;
            let ni = n as isize;
            Ok(match mode {
                "zero" => (0..ni).contains(&j).then_some(j as usize),
                "circular" => Some(idx(j, n)),
                "replicate" => Some(j.clamp(0, ni - 1) as usize),
                "reflect" => {
                    if lo >= n || hi >= n {
                        return Err("reflect padding needs lo, hi < n".into());
                    }
                    let r = if j < 0 {
                        -j
                    } else if j >= ni {
                        2 * (ni - 1) - j
                    } else {
                        j
                    };
                    Some(r as usize)
                }
                _ => return Err(format!("unknown padding mode `{mode}`")),
            })
        })
        .collect()
}

fn apply_map(x: &[C], map: &[Option<usize>]) -> Vec<C> {
    map.iter()
        .map(|m| m.map_or(C::new(0.0, 0.0), |j| x[j]))
        .collect()
}

/// `Mᵀ y` for the real linear map `f` on extent `n`, by its dense matrix (unit vectors).
fn transpose_apply(f: &dyn Fn(&[C]) -> R<Vec<C>>, n: usize, y: &[C]) -> R<Vec<C>> {
    let mut out = Vec::with_capacity(n);
    for j in 0..n {
        let mut e = vec![C::new(0.0, 0.0); n];
        e[j] = C::new(1.0, 0.0);
        let col = f(&e)?;
        if col.len() != y.len() {
            return Err(format!(
                "the map has {} outputs, got {}",
                col.len(),
                y.len()
            ));
        }
        // Real inner product ⟨Me_j, y⟩ = Re Σ conj(M_ij) y_i.
        let s: f64 = col.iter().zip(y).map(|(m, v)| (m.conj() * v).re).sum();
        out.push(C::new(s, 0.0));
    }
    Ok(out)
}

fn circ(h: &[C], x: &[C]) -> R<Vec<C>> {
    let p = x.len();
    if h.len() > p {
        return Err("the kernel is longer than the period".into());
    }
    Ok((0..p)
        .map(|i| {
            (0..h.len())
                .map(|j| h[j] * x[idx(i as isize - j as isize, p)])
                .sum()
        })
        .collect())
}

fn corr(h: &[C], y: &[C]) -> R<Vec<C>> {
    let p = y.len();
    if h.len() > p {
        return Err("the kernel is longer than the period".into());
    }
    Ok((0..p)
        .map(|j| (0..h.len()).map(|m| h[m] * y[(j + m) % p]).sum())
        .collect())
}

fn dft(x: &[C], sign: f64) -> Vec<C> {
    let n = x.len();
    (0..n)
        .map(|k| {
            (0..n)
                .map(|j| {
                    let a = sign * 2.0 * std::f64::consts::PI * ((j * k) % n) as f64 / n as f64;
                    x[j] * C::new(a.cos(), a.sin())
                })
                .sum()
        })
        .collect()
}

fn rfft(x: &[C]) -> R<Vec<C>> {
    let mut planner = realfft::RealFftPlanner::<f64>::new();
    let plan = planner.plan_fft_forward(x.len());
    let mut input: Vec<f64> = x.iter().map(|c| c.re).collect();
    let mut out = plan.make_output_vec();
    plan.process(&mut input, &mut out)
        .map_err(|e| e.to_string())?;
    Ok(out)
}

fn irfft(y: &[C], n: usize) -> R<Vec<C>> {
    if y.len() != n / 2 + 1 {
        return Err(format!(
            "a half spectrum of extent {n} has {} bins",
            n / 2 + 1
        ));
    }
    let mut planner = realfft::RealFftPlanner::<f64>::new();
    let plan = planner.plan_fft_inverse(n);
    let mut input = y.to_vec();
    // realfft wants exactly real DC/Nyquist bins; the imaginary parts do not enter.
    input[0].im = 0.0;
    if n.is_multiple_of(2) {
        input[n / 2].im = 0.0;
    }
    let mut out = plan.make_output_vec();
    plan.process(&mut input, &mut out)
        .map_err(|e| e.to_string())?;
    Ok(out.into_iter().map(|v| C::new(v / n as f64, 0.0)).collect())
}

fn layer_of(v: &Val) -> R<Layer> {
    let Val::Str(s) = v else {
        return Err("expected a layer string, e.g. \"conv1d(x: [1, 1, 5], w: [1, 1, 3])\"".into());
    };
    match parse_statement(s, "layer").map_err(|e| e.to_string())? {
        Some(Statement::Layer(l)) => Ok(l),
        _ => Err(format!("`{s}` is not a layer")),
    }
}

fn tensor(v: &Val, shape: &[usize]) -> R<Tensor<f64>> {
    let r = v.reals()?;
    Tensor::new(shape.to_vec(), r).map_err(|e| e.to_string())
}

fn from_tensor(t: &Tensor<f64>) -> Val {
    Val::Arr {
        shape: t.shape().to_vec(),
        data: t.data().iter().map(|v| C::new(*v, 0.0)).collect(),
        tol: vec![0.0; t.len()],
    }
}

/// The FFT chain's and the direct loops' results must agree; the chain's is returned.
fn both(a: Tensor<f64>, b: Tensor<f64>, what: &str) -> R<Val> {
    let scale = b.data().iter().fold(1.0f64, |m, v| m.max(v.abs()));
    let err = a
        .data()
        .iter()
        .zip(b.data())
        .fold(0.0f64, |m, (x, y)| m.max((x - y).abs()));
    if err > 1e-9 * scale {
        return Err(format!(
            "{what}: the FFT chain and the direct loops differ by {err:.1e}"
        ));
    }
    Ok(from_tensor(&a))
}

fn layer_call(f: &str, args: &[Val]) -> R<Val> {
    let l = layer_of(arg(args, 0, f)?)?;
    let g = l.geometry().map_err(|e| e.to_string())?;
    if f == "out_shape" {
        return Ok(real(g.y_shape().iter().map(|&v| v as f64).collect()));
    }
    if f == "period" {
        let c = g.as_conv();
        let p = c
            .input
            .iter()
            .zip(&c.pads)
            .map(|(&s, &(lo, hi))| crate::fft::fast_len(s + lo + hi) as f64);
        return Ok(real(p.collect()));
    }
    let x = tensor(arg(args, 1, f)?, &l.x_shape)?;
    let w = tensor(arg(args, 2, f)?, &l.w_shape)?;
    let b = if l.bias {
        Some(tensor(arg(args, 3, f)?, &[g.c_out])?)
    } else {
        None
    };
    let e = |r: crate::Result<Tensor<f64>>| r.map_err(|e| e.to_string());
    if f == "forward" {
        let a = e(conv::forward(&l.spec, &x, &w, b.as_ref(), Algorithm::Chain))?;
        let d = e(conv::forward(
            &l.spec,
            &x,
            &w,
            b.as_ref(),
            Algorithm::Direct,
        ))?;
        return both(a, d, f);
    }
    let dy = tensor(arg(args, if l.bias { 4 } else { 3 }, f)?, &g.y_shape())?;
    let run = |algo| conv::backward(&l.spec, &x, &w, &dy, l.bias, algo).map_err(|e| e.to_string());
    let (a, d) = (run(Algorithm::Chain)?, run(Algorithm::Direct)?);
    match f {
        "grad_x" => both(a.dx, d.dx, f),
        "grad_w" => both(a.dw, d.dw, f),
        _ => match (a.db, d.db) {
            (Some(a), Some(d)) => both(a, d, f),
            _ => Err("grad_b needs a layer with `bias`".into()),
        },
    }
}

fn call(f: &str, args: &[Val], kw: &[(String, Val)]) -> R<Val> {
    let a = |i: usize| arg(args, i, f);
    let u = |i: usize| a(i)?.usize();
    let v = |i: usize| cvec(a(i)?);
    let out = match f {
        "forward" | "grad_x" | "grad_w" | "grad_b" | "out_shape" | "period" => {
            return layer_call(f, args)
        }
        "zero_pad" | "pad_circular" | "pad_reflect" | "pad_replicate" => {
            let mode = f.strip_prefix("pad_").unwrap_or("zero");
            let x = v(0)?;
            apply_map(&x, &pad_map(mode, x.len(), u(1)?, u(2)?)?)
        }
        "fold_circular" | "fold_reflect" | "fold_replicate" => {
            let mode = &f[5..];
            let y = v(0)?;
            let (lo, hi) = (u(1)?, u(2)?);
            let n = y
                .len()
                .checked_sub(lo + hi)
                .ok_or("the fold is longer than its input")?;
            let map = pad_map(mode, n, lo, hi)?;
            transpose_apply(&|x| Ok(apply_map(x, &map)), n, &y)?
        }
        "crop" => {
            let x = v(0)?;
            let (lo, hi) = (u(1)?, u(2)?);
            if lo + hi > x.len() {
                return Err("crop longer than the input".into());
            }
            x[lo..x.len() - hi].to_vec()
        }
        "flip" => v(0)?.into_iter().rev().collect(),
        "reverse" => {
            // h⁻_j = h_{-j mod P} (not the flip: that is x_{P-1-j}).
            let x = v(0)?;
            (0..x.len()).map(|j| x[(x.len() - j) % x.len()]).collect()
        }
        "circ" => circ(&v(0)?, &v(1)?)?,
        "corr" => corr(&v(0)?, &v(1)?)?,
        "dft" => dft(&v(0)?, -1.0),
        "idft" => {
            let x = v(0)?;
            let n = x.len() as f64;
            dft(&x, 1.0).into_iter().map(|c| c / n).collect()
        }
        "rfft" => rfft(&v(0)?)?,
        "irfft" => irfft(&v(0)?, u(1)?)?,
        "rfft_adj" => {
            let n = u(1)?;
            transpose_apply(&|x| rfft(x), n, &v(0)?)?
        }
        "subsample" => v(0)?.into_iter().step_by(u(1)?.max(1)).collect(),
        "zero_insert" | "dilate" => {
            let (x, s) = (v(0)?, u(1)?.max(1));
            if x.is_empty() {
                return Err(format!("{f} of an empty list"));
            }
            let n = (x.len() - 1) * s + 1;
            (0..n)
                .map(|j| {
                    if j % s == 0 {
                        x[j / s]
                    } else {
                        C::new(0.0, 0.0)
                    }
                })
                .collect()
        }
        "dilate_adjoint" => {
            let (y, s) = (v(0)?, u(1)?.max(1));
            if y.is_empty() {
                return Err("dilate_adjoint of an empty list".into());
            }
            let n = (y.len() - 1) / s + 1;
            let f = |x: &[C]| -> R<Vec<C>> {
                Ok((0..(n - 1) * s + 1)
                    .map(|j| {
                        if j % s == 0 {
                            x[j / s]
                        } else {
                            C::new(0.0, 0.0)
                        }
                    })
                    .collect())
            };
            transpose_apply(&f, n, &y)?
        }
        "mix" | "mix_t" => {
            let (m, x) = (a(0)?, v(1)?);
            let Val::Arr { shape, data, .. } = m else {
                return Err("mix needs a matrix".into());
            };
            let [o, cg] = shape[..] else {
                return Err("mix needs a matrix (O, C/g)".into());
            };
            let g = kwarg(kw, "groups").map_or(Ok(1), |g| g.usize())?;
            if g == 0 || o % g != 0 {
                return Err(format!("mix: {o} outputs do not split into {g} groups"));
            }
            let c = cg * g;
            let fwd = |x: &[C]| -> R<Vec<C>> {
                if x.len() != c {
                    return Err(format!("mix: {} channels, expected {c}", x.len()));
                }
                Ok((0..o)
                    .map(|oo| {
                        let gr = oo / (o / g);
                        (0..cg).map(|cc| data[oo * cg + cc] * x[gr * cg + cc]).sum()
                    })
                    .collect())
            };
            if f == "mix" {
                fwd(&x)?
            } else {
                transpose_apply(&fwd, c, &x)?
            }
        }
        "rand" | "crand" => {
            // Seeded uniform numbers in [-1, 1) (a 64-bit LCG): generic test data.
            let n = u(0)?;
            let mut state =
                args.get(1).map_or(Ok(1), |v| v.usize())? as u64 * 2_654_435_761 + 12_345;
            let mut next = || {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                ((state >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
            };
            (0..n)
                .map(|_| {
                    let re = next();
                    C::new(re, if f == "crand" { next() } else { 0.0 })
                })
                .collect()
        }
        "sum_nc" => {
            // (N, C, *S) flattened → (C,): the bias adjoint, summing batch and space.
            let (y, n, c) = (v(0)?, u(1)?, u(2)?);
            if n * c == 0 || y.len() % (n * c) != 0 {
                return Err("sum_nc: the extent is not N·C·S".into());
            }
            let sp = y.len() / (n * c);
            (0..c)
                .map(|cc| {
                    (0..n)
                        .flat_map(|nn| (0..sp).map(move |s| (nn, s)))
                        .map(|(nn, s)| y[(nn * c + cc) * sp + s])
                        .sum()
                })
                .collect()
        }
        "fft_error" => {
            // `conv::error_model::measure` (the note 16 table): [max rel err, ‖ŷ−y‖/(ε log₂P ‖x‖ ‖w‖₁)].
            let (size, kernel) = (u(0)?, u(1)?);
            let s = match u(2)? {
                32 => crate::conv::error_model::measure::<f32>(size, kernel, 1),
                64 => crate::conv::error_model::measure::<f64>(size, kernel, 1),
                b => return Err(format!("fft_error: {b} bits? 32 or 64")),
            }
            .map_err(|e| e.to_string())?;
            vec![C::new(s.max_rel_err, 0.0), C::new(s.bound_ratio, 0.0)]
        }
        "roundoff" => {
            // The largest relative rounding error met over seeded random operands: of an f64
            // sum (exact error by TwoSum), or of rounding an f64 to f32.
            let bits = u(0)?;
            if bits != 32 && bits != 64 {
                return Err(format!("roundoff: {bits} bits? 32 or 64"));
            }
            let mut state = 0x9E37_79B9_7F4A_7C15u64;
            let mut next = || {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                (state >> 11) as f64 / (1u64 << 53) as f64 + 0.5
            };
            let mut worst = 0.0f64;
            for _ in 0..200_000 {
                let (a, b) = (next(), next() * 1e-3);
                let r = if bits == 32 {
                    ((a as f32) as f64 - a).abs() / a
                } else {
                    let s = a + b;
                    let bb = s - a;
                    ((a - (s - bb)) + (b - bb)).abs() / s
                };
                worst = worst.max(r);
            }
            vec![C::new(worst, 0.0)]
        }
        "conv_error" => {
            // FFT path against the direct loops, f64: [norm-wise relative error, largest
            // per-entry relative error].
            let l = layer_of(a(0)?)?;
            let x = tensor(a(1)?, &l.x_shape)?;
            let w = tensor(a(2)?, &l.w_shape)?;
            let e = |r: crate::Result<Tensor<f64>>| r.map_err(|e| e.to_string());
            let fft = e(conv::forward(&l.spec, &x, &w, None, Algorithm::Fft))?;
            let dir = e(conv::forward(&l.spec, &x, &w, None, Algorithm::Direct))?;
            let (mut num, mut den, mut worst) = (0.0f64, 0.0f64, 0.0f64);
            for (f, d) in fft.data().iter().zip(dir.data()) {
                num += (f - d) * (f - d);
                den += d * d;
                if d.abs() > 0.0 {
                    worst = worst.max((f - d).abs() / d.abs());
                }
            }
            vec![C::new((num / den).sqrt(), 0.0), C::new(worst, 0.0)]
        }
        "dot" => {
            let (x, y) = (v(0)?, v(1)?);
            if x.len() != y.len() {
                return Err(format!("dot of {} and {} entries", x.len(), y.len()));
            }
            vec![x.iter().zip(y).map(|(x, y)| x * y).sum()]
        }
        "sum" => vec![v(0)?.iter().sum()],
        "abs2" => v(0)?.iter().map(|c| C::new(c.norm_sqr(), 0.0)).collect(),
        "conj" => v(0)?.iter().map(|c| c.conj()).collect(),
        "re" => v(0)?.iter().map(|c| C::new(c.re, 0.0)).collect(),
        "len" => vec![C::new(a(0)?.len() as f64, 0.0)],
        "floor" => v(0)?.iter().map(|c| C::new(c.re.floor(), 0.0)).collect(),
        "max" => vec![C::new(v(0)?.iter().fold(f64::MIN, |m, c| m.max(c.re)), 0.0)],
        "fast_len" => vec![C::new(crate::fft::fast_len(u(0)?) as f64, 0.0)],
        "at" => {
            let x = v(0)?;
            vec![*x.get(u(1)?).ok_or("index out of range")?]
        }
        "slice" => {
            let x = v(0)?;
            let (lo, hi) = (u(1)?, u(2)?);
            x.get(lo..hi).ok_or("slice out of range")?.to_vec()
        }
        _ => return fast::call(f, args).unwrap_or_else(|| Err(format!("unknown function `{f}`"))),
    };
    let scalar_result = matches!(
        f,
        "dot" | "sum" | "len" | "max" | "fast_len" | "roundoff" | "at"
    );
    Ok(if scalar_result {
        scalar(out[0], 0.0)
    } else {
        vector(out)
    })
}
