//! Tokens and the expression parser, shared by claims and TeX prose.

use super::*;

// ---------------------------------------------------------------- tokens and parser

#[derive(Clone, Debug, PartialEq)]
pub(super) enum Tok {
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
pub(super) fn lex(src: &str, latex: bool) -> Result<Vec<Tok>, String> {
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

pub(super) struct Parser<'a> {
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

pub(super) type R<T> = Result<T, String>;

impl Parser<'_> {
    pub(super) fn peek(&self) -> &Tok {
        &self.toks[self.pos]
    }
    pub(super) fn next(&mut self) -> Tok {
        let t = self.toks[self.pos].clone();
        if self.pos + 1 < self.toks.len() {
            self.pos += 1;
        }
        t
    }
    pub(super) fn eat(&mut self, c: char) -> bool {
        if self.peek() == &Tok::Sym(c) {
            self.next();
            true
        } else {
            false
        }
    }
    pub(super) fn expr(&mut self) -> R<Val> {
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
    pub(super) fn starts_atom(&self) -> bool {
        matches!(
            self.peek(),
            Tok::Num(..) | Tok::Frac | Tok::Sym('(') | Tok::Ident(_)
        )
    }
    pub(super) fn term(&mut self) -> R<Val> {
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
    pub(super) fn unary(&mut self) -> R<Val> {
        if self.eat('-') {
            let v = self.unary()?;
            return binop(&scalar(C::new(-1.0, 0.0), 0.0), &v, '*');
        }
        if self.eat('+') {
            return self.unary();
        }
        self.power()
    }
    pub(super) fn power(&mut self) -> R<Val> {
        let base = self.atom()?;
        if self.eat('^') {
            let e = self.unary()?;
            return binop(&base, &e, '^');
        }
        Ok(base)
    }
    pub(super) fn list(&mut self, close: char) -> R<Vec<Val>> {
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
    pub(super) fn atom(&mut self) -> R<Val> {
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

pub(super) fn stack(items: Vec<Val>) -> R<Val> {
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

pub(super) fn binop(a: &Val, b: &Val, op: char) -> R<Val> {
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
