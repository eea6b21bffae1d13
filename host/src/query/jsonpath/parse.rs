//! The JSONPath parser: source text to [`super::Step`]s, filters included.

use serde_json::Value;

use super::{CmpOp, Expr, Operand, Root, Step, steps_definite};
use crate::query::QueryError;

pub(super) struct Parser<'s> {
    pub(super) src: &'s str,
    pub(super) pos: usize,
    pub(super) in_filter: bool,
}

impl<'s> Parser<'s> {
    pub(super) fn err(&self, message: &str) -> QueryError {
        let at = self.src.get(..self.pos).map_or(0, |s| s.chars().count());
        QueryError::new(self.src, at, message)
    }

    fn peek(&self) -> Option<char> {
        self.src.get(self.pos..)?.chars().next()
    }

    fn peek_at(&self, n: usize) -> Option<char> {
        self.src.get(self.pos..)?.chars().nth(n)
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn eat(&mut self, s: &str) -> bool {
        if self.src.get(self.pos..).is_some_and(|r| r.starts_with(s)) {
            self.pos += s.len();
            true
        } else {
            false
        }
    }

    pub(super) fn skip_ws(&mut self) {
        while let Some(c) = self.peek().filter(|c| c.is_whitespace()) {
            self.pos += c.len_utf8();
        }
    }

    pub(super) fn root(&mut self) -> Result<Root, QueryError> {
        if !self.eat("$") {
            return Err(self.err("a path must start with '$'"));
        }
        if self.eat("$") {
            return Ok(Root::Context);
        }
        match self.peek() {
            None | Some('.' | '[') => Ok(Root::Input),
            Some(_) => {
                let start = self.pos;
                while self.peek().is_some_and(|c| c != '.' && c != '[') {
                    self.bump();
                }
                let name = &self.src[start..self.pos];
                if let Some(bad) = name
                    .char_indices()
                    .find(|(_, c)| !(c.is_alphanumeric() || *c == '_'))
                {
                    self.pos = start + bad.0;
                    return Err(self.err("a variable name may hold only letters, digits and '_'"));
                }
                Ok(Root::Variable(name.to_owned()))
            }
        }
    }

    pub(super) fn steps(&mut self) -> Result<Vec<Step>, QueryError> {
        let mut steps = Vec::new();
        loop {
            if self.eat("..") {
                let inner = match self.peek() {
                    Some('[') => {
                        self.bump();
                        self.bracket()?
                    }
                    Some('*') => {
                        self.bump();
                        Step::Wildcard
                    }
                    _ => Step::Field(self.dot_name()?),
                };
                steps.push(Step::Descend(Box::new(inner)));
            } else if self.eat(".") {
                if self.eat("*") {
                    steps.push(Step::Wildcard);
                } else if self.eat("[") {
                    // Jayway reads the token after a '.' afresh, so `$.[0]`
                    // and `$.a.['b']` are `$[0]` and `$.a['b']`.
                    steps.push(self.bracket()?);
                } else {
                    steps.push(Step::Field(self.dot_name()?));
                }
            } else if self.peek() == Some('[') {
                self.bump();
                steps.push(self.bracket()?);
            } else if !self.in_filter && !steps.is_empty() && self.peek().is_some() {
                // Jayway again: a name straight after `]` or `*` is a
                // property step, `$[0]a` being `$[0].a`.
                steps.push(Step::Field(self.dot_name()?));
            } else {
                return Ok(steps);
            }
        }
    }

    fn dot_name(&mut self) -> Result<String, QueryError> {
        let start = self.pos;
        while let Some(c) = self.peek() {
            let stop = c == '.'
                || c == '['
                || (self.in_filter && (c.is_whitespace() || "()=!<>&|,]".contains(c)));
            if stop {
                break;
            }
            // Jayway refuses only the space; a tab is part of the name.
            if c == ' ' {
                return Err(self
                    .err("a property name with blanks needs bracket notation, e.g. $['my prop']"));
            }
            if c == '(' {
                return Err(self.err("path functions are not supported"));
            }
            self.bump();
        }
        if self.pos == start {
            return Err(self.err("expected a property name"));
        }
        Ok(self.src[start..self.pos].to_owned())
    }

    /// The inside of `[...]`, after the `[`; consumes the `]`.
    fn bracket(&mut self) -> Result<Step, QueryError> {
        self.skip_ws();
        let step = match self.peek() {
            Some('\'' | '"') => {
                let mut names = vec![self.quoted()?];
                self.skip_ws();
                while self.eat(",") {
                    self.skip_ws();
                    names.push(self.quoted()?);
                    self.skip_ws();
                }
                if names.len() == 1 {
                    Step::Field(names.swap_remove(0))
                } else {
                    Step::Fields(names)
                }
            }
            Some('*') => {
                self.bump();
                Step::Wildcard
            }
            Some('?') => {
                self.bump();
                self.skip_ws();
                if !self.eat("(") {
                    return Err(self.err("a filter is written [?(...)]"));
                }
                let outer = self.in_filter;
                self.in_filter = true;
                let expr = self.or_expr()?;
                self.in_filter = outer;
                self.skip_ws();
                if !self.eat(")") {
                    return Err(self.err("expected ')' closing the filter"));
                }
                Step::Filter(Box::new(expr))
            }
            _ => self.indexes()?,
        };
        self.skip_ws();
        if !self.eat("]") {
            return Err(self.err("expected ']'"));
        }
        Ok(step)
    }

    fn quoted(&mut self) -> Result<String, QueryError> {
        let start = self.pos;
        let Some(q) = self.bump() else {
            return Err(self.err("expected a quoted name"));
        };
        let mut out = String::new();
        loop {
            match self.bump() {
                None => {
                    self.pos = start;
                    return Err(self.err("unterminated quoted name"));
                }
                Some(c) if c == q => return Ok(out),
                // `\'` is the quote itself; any other escape stays as written
                // (AWS reads `['a\"b']` as the key `a\"b`).
                Some('\\') => match self.bump() {
                    Some(c) if c == q => out.push(c),
                    Some(c) => {
                        out.push('\\');
                        out.push(c);
                    }
                    None => {
                        self.pos = start;
                        return Err(self.err("unterminated quoted name"));
                    }
                },
                Some(c) => out.push(c),
            }
        }
    }

    fn indexes(&mut self) -> Result<Step, QueryError> {
        let start = self.pos;
        while self.peek().is_some_and(|c| c != ']') {
            self.bump();
        }
        let body = &self.src[start..self.pos];
        let int = |s: &str, at: usize| -> Result<Option<i64>, QueryError> {
            let t = s.trim();
            if t.is_empty() {
                return Ok(None);
            }
            t.parse::<i64>().map(Some).map_err(|_| QueryError {
                position: self.src[..at].chars().count(),
                ..self.err(&format!("'{t}' is not an array index"))
            })
        };
        if body.contains(':') {
            let parts: Vec<&str> = body.split(':').collect();
            if parts.len() != 2 {
                return Err(QueryError {
                    position: self.src[..start].chars().count(),
                    ..self.err("a slice is written [from:to] (no step)")
                });
            }
            let from = int(parts[0], start)?;
            let to = int(parts[1], start + parts[0].len() + 1)?;
            return Ok(Step::Slice(from, to));
        }
        let mut list = Vec::new();
        let mut at = start;
        for part in body.split(',') {
            match int(part, at)? {
                Some(i) => list.push(i),
                None => {
                    return Err(QueryError {
                        position: self.src[..at].chars().count(),
                        ..self.err("expected an index, a quoted name, '*' or a filter")
                    });
                }
            }
            at += part.len() + 1;
        }
        Ok(if list.len() == 1 {
            Step::Index(list[0])
        } else {
            Step::Indexes(list)
        })
    }

    fn or_expr(&mut self) -> Result<Expr, QueryError> {
        let mut e = self.and_expr()?;
        loop {
            self.skip_ws();
            if !self.eat("||") {
                return Ok(e);
            }
            e = Expr::Or(Box::new(e), Box::new(self.and_expr()?));
        }
    }

    fn and_expr(&mut self) -> Result<Expr, QueryError> {
        let mut e = self.unary()?;
        loop {
            self.skip_ws();
            if !self.eat("&&") {
                return Ok(e);
            }
            e = Expr::And(Box::new(e), Box::new(self.unary()?));
        }
    }

    fn unary(&mut self) -> Result<Expr, QueryError> {
        self.skip_ws();
        if self.peek() == Some('!') && self.peek_at(1) != Some('=') {
            self.bump();
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        if self.eat("(") {
            let e = self.or_expr()?;
            self.skip_ws();
            if !self.eat(")") {
                return Err(self.err("expected ')'"));
            }
            return Ok(e);
        }
        let left = self.operand()?;
        self.skip_ws();
        let op = if self.eat("==") {
            CmpOp::Eq
        } else if self.eat("!=") {
            CmpOp::Ne
        } else if self.eat("<=") {
            CmpOp::Le
        } else if self.eat(">=") {
            CmpOp::Ge
        } else if self.eat("<") {
            CmpOp::Lt
        } else if self.eat(">") {
            CmpOp::Gt
        } else if self.peek() == Some('=') || self.peek().is_some_and(char::is_alphabetic) {
            return Err(
                self.err("unsupported filter operator: use ==, !=, <, <=, >, >=, &&, || or !")
            );
        } else {
            return match left {
                Operand::Path { .. } => Ok(Expr::Exists(left)),
                Operand::Literal(_) => Err(self.err("expected a comparison operator")),
            };
        };
        let right = self.operand()?;
        Ok(Expr::Cmp(left, op, right))
    }

    fn operand(&mut self) -> Result<Operand, QueryError> {
        self.skip_ws();
        match self.peek() {
            Some(c @ ('@' | '$')) => {
                self.bump();
                let steps = self.steps()?;
                let definite = steps_definite(&steps);
                Ok(Operand::Path {
                    current: c == '@',
                    steps,
                    definite,
                })
            }
            Some('\'' | '"') => Ok(Operand::Literal(Value::String(self.quoted_literal()?))),
            Some(c) if c == '-' || c.is_ascii_digit() => {
                let start = self.pos;
                while self
                    .peek()
                    .is_some_and(|c| c.is_ascii_digit() || ".eE+-".contains(c))
                {
                    self.bump();
                }
                let text = &self.src[start..self.pos];
                serde_json::from_str::<serde_json::Number>(text)
                    .map(|n| Operand::Literal(Value::Number(n)))
                    .map_err(|_| {
                        self.pos = start;
                        self.err(&format!("'{text}' is not a number"))
                    })
            }
            _ => {
                let start = self.pos;
                while self
                    .peek()
                    .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '-')
                {
                    self.bump();
                }
                // A bare word is a string, as Jayway reads it.
                Ok(Operand::Literal(match &self.src[start..self.pos] {
                    "" => {
                        return Err(self
                            .err("expected @, $, a number, a quoted string, true, false or null"));
                    }
                    "true" => Value::Bool(true),
                    "false" => Value::Bool(false),
                    "null" => Value::Null,
                    word => Value::String(word.to_owned()),
                }))
            }
        }
    }

    /// A filter string literal: backslash escapes the next character.
    fn quoted_literal(&mut self) -> Result<String, QueryError> {
        let start = self.pos;
        let q = self.bump().expect("caller saw a quote");
        let mut out = String::new();
        loop {
            match self.bump() {
                Some(c) if c == q => return Ok(out),
                Some('\\') => match self.bump() {
                    Some(c) => out.push(c),
                    None => break,
                },
                Some(c) => out.push(c),
                None => break,
            }
        }
        self.pos = start;
        Err(self.err("unterminated string"))
    }
}
