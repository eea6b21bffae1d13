//! The intrinsic call parser: `States.Name(args)` to a [`super::Call`], with
//! arity and literal-type checks.

use serde_json::{Number, Value};

use super::{Arg, Call, Func, Piece};
use crate::query::{JsonPath, QueryError};

pub(super) struct Parser<'s> {
    pub(super) src: &'s str,
    pub(super) pos: usize,
}

impl Parser<'_> {
    pub(super) fn err(&self, message: impl Into<String>) -> QueryError {
        let at = self.src.get(..self.pos).map_or(0, |s| s.chars().count());
        QueryError::new(self.src, at, message)
    }

    fn rest(&self) -> &str {
        self.src.get(self.pos..).unwrap_or("")
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    pub(super) fn skip_ws(&mut self) {
        while let Some(c) = self.peek().filter(|c| c.is_whitespace()) {
            self.pos += c.len_utf8();
        }
    }

    pub(super) fn call(&mut self) -> Result<Call, QueryError> {
        let start = self.pos;
        let len = self
            .rest()
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.'))
            .unwrap_or(self.rest().len());
        let name = &self.src[start..start + len];
        let func = Func::from_name(name)
            .ok_or_else(|| self.err(format!("'{name}' is not an intrinsic function")))?;
        self.pos += len;
        self.skip_ws();
        if self.peek() != Some('(') {
            return Err(self.err("expected '(' after the function name"));
        }
        self.pos += 1;
        let mut args = Vec::new();
        self.skip_ws();
        if self.peek() == Some(')') {
            self.pos += 1;
        } else {
            loop {
                self.skip_ws();
                args.push(self.arg()?);
                self.skip_ws();
                match self.peek() {
                    Some(',') => self.pos += 1,
                    Some(')') => {
                        self.pos += 1;
                        break;
                    }
                    _ => return Err(self.err("expected ',' or ')'")),
                }
            }
        }
        let (min, max) = func.arity();
        if args.len() < min || args.len() > max {
            let want = if min == max {
                format!("{min}")
            } else if max == usize::MAX {
                format!("at least {min}")
            } else {
                format!("{min} to {max}")
            };
            self.pos = start;
            return Err(self.err(format!(
                "{name} takes {want} arguments but was given {}",
                args.len()
            )));
        }
        for (i, arg) in args.iter().enumerate() {
            if let Some(want) = literal_mismatch(func, i, arg) {
                self.pos = start;
                return Err(self.err(format!("argument {} of {name} must be {want}", i + 1)));
            }
        }
        if func == Func::Format
            && let Some(Arg::Literal(v)) = args.first()
            && !v.is_string()
        {
            self.pos = start;
            return Err(self.err("the first argument of States.Format must be a string or a path"));
        }
        if let (Func::Format, Some(Arg::Template(pieces))) = (func, args.first()) {
            let holes = pieces.iter().filter(|p| **p == Piece::Hole).count();
            if holes != args.len() - 1 {
                self.pos = start;
                return Err(self.err(format!(
                    "the template has {holes} placeholders but {} values were given",
                    args.len() - 1
                )));
            }
        }
        Ok(Call { func, args })
    }

    fn arg(&mut self) -> Result<Arg, QueryError> {
        let rest = self.rest();
        match self.peek() {
            Some('\'') => self.string(),
            Some('$') => {
                let len = path_len(rest);
                let text = rest[..len].trim_end();
                let path = JsonPath::parse(text).map_err(|e| QueryError {
                    position: e.position + self.src[..self.pos].chars().count(),
                    expr: self.src.to_owned(),
                    message: e.message,
                })?;
                self.pos += len;
                Ok(Arg::Path(path))
            }
            Some(c) if c == '-' || c.is_ascii_digit() => {
                let len = rest
                    .find(|c: char| !(c.is_ascii_digit() || ".eE+-".contains(c)))
                    .unwrap_or(rest.len());
                let n: Number = serde_json::from_str(&rest[..len])
                    .map_err(|_| self.err(format!("'{}' is not a number", &rest[..len])))?;
                self.pos += len;
                Ok(Arg::Literal(Value::Number(n)))
            }
            _ if rest.starts_with("States.") => Ok(Arg::Call(Box::new(self.call()?))),
            _ => {
                for (word, v) in [
                    ("true", Value::Bool(true)),
                    ("false", Value::Bool(false)),
                    ("null", Value::Null),
                ] {
                    if rest.starts_with(word)
                        && !rest[word.len()..].starts_with(|c: char| c.is_alphanumeric())
                    {
                        self.pos += word.len();
                        return Ok(Arg::Literal(v));
                    }
                }
                Err(self.err(
                    "expected a quoted string, a number, true, false, null, a path or a States.* call",
                ))
            }
        }
    }

    /// `'...'` with `\'`, `\{`, `\}`, `\\` escapes; unescaped `{}` are Format
    /// placeholders.
    fn string(&mut self) -> Result<Arg, QueryError> {
        let start = self.pos;
        self.pos += 1;
        let mut pieces = Vec::new();
        let mut text = String::new();
        loop {
            let Some(c) = self.peek() else {
                self.pos = start;
                return Err(self.err("unterminated string"));
            };
            self.pos += c.len_utf8();
            match c {
                '\'' => break,
                '\\' => match self.peek() {
                    Some(e @ ('\'' | '{' | '}' | '\\')) => {
                        text.push(e);
                        self.pos += 1;
                    }
                    // Any other escape stays as written.
                    Some(e) => {
                        text.push('\\');
                        text.push(e);
                        self.pos += e.len_utf8();
                    }
                    None => {
                        self.pos = start;
                        return Err(self.err("unterminated string"));
                    }
                },
                '{' if self.peek() == Some('}') => {
                    self.pos += 1;
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                    pieces.push(Piece::Hole);
                }
                c => text.push(c),
            }
        }
        if pieces.is_empty() {
            return Ok(Arg::Literal(Value::String(text)));
        }
        pieces.push(Piece::Text(text));
        Ok(Arg::Template(pieces))
    }
}

/// What a literal argument at `index` of `func` should have been, when the
/// literal cannot be right whatever the input (paths and calls are checked
/// at run time).
fn literal_mismatch(func: Func, index: usize, arg: &Arg) -> Option<&'static str> {
    use Func::*;
    let lit = match arg {
        Arg::Literal(v) => v,
        Arg::Template(_) => &Value::Null,
        Arg::Path(_) | Arg::Call(_) => return None,
    };
    let is_str = matches!(arg, Arg::Template(_)) || lit.is_string();
    let (ok, want) = match (func, index) {
        (JsonToString, _) => (false, "a path"),
        (StringToJson | Base64Encode | Base64Decode | StringSplit, _) | (Hash, 1) => {
            (is_str, "a string")
        }
        (ArrayRange | MathRandom | MathAdd, _) | (ArrayPartition | ArrayGetItem, 1) => {
            (lit.is_number(), "a number")
        }
        (ArrayPartition | ArrayContains | ArrayGetItem | ArrayLength | ArrayUnique, 0) => {
            (false, "an array (a path or a call)")
        }
        (JsonMerge, 0 | 1) => (false, "an object (a path or a call)"),
        (JsonMerge, _) => (
            lit == &Value::Bool(false),
            "false (deep merge is not supported)",
        ),
        _ => (true, ""),
    };
    (!ok).then_some(want)
}

/// Length of a path argument: up to the first `,` or `)` outside brackets
/// and quotes.
fn path_len(s: &str) -> usize {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' if depth > 0 => quote = Some(c),
            '[' | '(' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            ')' if depth > 0 => depth -= 1,
            ',' | ')' if depth == 0 => return i,
            _ => {}
        }
    }
    s.len()
}
