//! The functions a Python script defines at its top level, read from its
//! source without running it: enough to check a job's `call` and its
//! argument counts before anything runs.

/// A top-level `def` of a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Def {
    /// The function's name.
    pub name: String,
    /// Its parameters as written (`n`, `step=1`, `*rest`), for messages.
    pub params: Vec<String>,
    /// Positional parameters without a default.
    pub required: usize,
    /// Positional parameters in all (with or without a default).
    pub positional: usize,
    /// Whether it takes `*args`: any number of positional arguments.
    pub varargs: bool,
    /// 1-based line of the `def`.
    pub line: usize,
}

impl Def {
    /// `heavy_calc(n)`, for messages.
    pub fn signature(&self) -> String {
        format!("{}({})", self.name, self.params.join(", "))
    }

    /// Whether a call with `count` positional arguments fits.
    pub fn accepts(&self, count: usize) -> bool {
        count >= self.required && (self.varargs || count <= self.positional)
    }

    /// "1 argument", "1 to 3 arguments", "at least 2 arguments".
    pub fn arity(&self) -> String {
        let plural = |n: usize| if n == 1 { "" } else { "s" };
        if self.varargs {
            format!(
                "at least {} argument{}",
                self.required,
                plural(self.required)
            )
        } else if self.required == self.positional {
            format!("{} argument{}", self.required, plural(self.required))
        } else {
            format!("{} to {} arguments", self.required, self.positional)
        }
    }
}

/// Every top-level `def NAME(...)` (and `async def`) of `source`, in order.
/// Functions defined in other ways (assignment, import, a decorator that
/// replaces them) are not seen; nested and class-level `def`s are skipped.
pub fn top_level_defs(source: &str) -> Vec<Def> {
    let lines: Vec<&str> = source.lines().collect();
    let mut defs = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let rest = line
            .strip_prefix("async def ")
            .or_else(|| line.strip_prefix("def "));
        let Some(rest) = rest else { continue };
        let rest = rest.trim_start();
        let name_len = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        let name = &rest[..name_len];
        let after = rest[name_len..].trim_start();
        if name.is_empty() || !after.starts_with('(') {
            continue;
        }
        // The parameter list may span lines: gather until its `)`.
        let mut text = after[1..].to_owned();
        let mut next = i + 1;
        let params = loop {
            if let Some(params) = split_params(&text) {
                break Some(params);
            }
            match lines.get(next) {
                Some(more) => {
                    text.push('\n');
                    text.push_str(more);
                    next += 1;
                }
                None => break None,
            }
        };
        if let Some(params) = params {
            defs.push(def(name, params, i + 1));
        }
    }
    defs
}

/// The parameters of a list starting just after its `(`, split at top-level
/// commas, up to the matching `)`; `None` if the `)` is not in `text`.
fn split_params(text: &str) -> Option<Vec<String>> {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut current = String::new();
    let mut params = Vec::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if let Some(q) = quote {
            current.push(c);
            if c == '\\' {
                current.extend(chars.next());
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' => {
                quote = Some(c);
                current.push(c);
            }
            '#' => {
                // A comment runs to the end of its line.
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            '(' | '[' | '{' => {
                depth += 1;
                current.push(c);
            }
            ')' if depth == 0 => {
                push_param(&mut params, &current);
                return Some(params);
            }
            ')' | ']' | '}' => {
                depth = depth.saturating_sub(1);
                current.push(c);
            }
            ',' if depth == 0 => {
                push_param(&mut params, &current);
                current.clear();
            }
            c => current.push(c),
        }
    }
    None
}

fn push_param(params: &mut Vec<String>, text: &str) {
    let param = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if !param.is_empty() {
        params.push(param);
    }
}

fn def(name: &str, params: Vec<String>, line: usize) -> Def {
    let mut required = 0;
    let mut positional = 0;
    let mut varargs = false;
    for param in &params {
        if param == "/" {
            continue;
        }
        if param == "*" || param.starts_with("**") {
            // Keyword-only from here (or keyword catch-all): never filled by
            // position.
            break;
        }
        if param.starts_with('*') {
            varargs = true;
            break;
        }
        positional += 1;
        if !param.contains('=') {
            required += 1;
        }
    }
    Def {
        name: name.to_owned(),
        params,
        required,
        positional,
        varargs,
        line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn only(source: &str) -> Def {
        let defs = top_level_defs(source);
        assert_eq!(defs.len(), 1, "{defs:?}");
        defs.into_iter().next().unwrap()
    }

    #[test]
    fn reads_names_and_arities() {
        let d = only("def heavy_calc(n):\n    return n\n");
        assert_eq!(
            (d.name.as_str(), d.required, d.positional, d.varargs),
            ("heavy_calc", 1, 1, false)
        );
        assert_eq!(d.signature(), "heavy_calc(n)");
        assert_eq!(d.line, 1);

        let d = only("def f(a, b: int = 2, /, c=(1, 2), *, d, **kw) -> int:\n    pass\n");
        assert_eq!((d.required, d.positional, d.varargs), (1, 3, false));
        assert!(d.accepts(1) && d.accepts(3) && !d.accepts(0) && !d.accepts(4));
        assert_eq!(d.arity(), "1 to 3 arguments");

        let d = only("async def g(x, *rest):\n    pass\n");
        assert!(d.varargs && d.accepts(5) && !d.accepts(0));
        assert_eq!(d.arity(), "at least 1 argument");
    }

    #[test]
    fn follows_parameter_lists_across_lines_and_skips_nested_defs() {
        let source = "import os\n\nclass C:\n    def method(self):\n        pass\n\n\
                      def outer(\n    a,  # the first, (not a paren\n    b=\"),\",\n):\n    \
                      def inner(x):\n        return x\n    return inner\n\ndef zero():\n    return 0\n";
        let defs = top_level_defs(source);
        let names: Vec<&str> = defs.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["outer", "zero"]);
        assert_eq!(defs[0].params, ["a", "b=\"),\""]);
        assert_eq!(
            (defs[0].required, defs[0].positional, defs[0].line),
            (1, 2, 7)
        );
        assert_eq!(defs[1].arity(), "0 arguments");
    }

    #[test]
    fn ignores_what_is_not_a_def() {
        assert!(top_level_defs("define = 1\ndef\ndef (x): pass\nx = lambda: 0\n").is_empty());
        // An unclosed list at the end of the file is not a function.
        assert!(top_level_defs("def broken(a,\n").is_empty());
    }
}
