//! CEL as kube-apiserver evaluates it for CRD validation rules: the
//! standard library with optional syntax plus the Kubernetes libraries
//! (kube-rs's `kube-cel`), parsed expressions cached by source, and runtime
//! errors worded as cel-go words them.
//!
//! cel-rust is an interpreter without cel-go's type checker: a rule that
//! parses but would not type-check is only refused when it runs.

pub(crate) mod check;
mod cost;
pub(crate) mod definitions;
pub(crate) mod rules;
pub(crate) mod value;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use kube_cel::KubeCelExt;
use kube_cel::cel::parser::{Expression, Parser};
use kube_cel::cel::{self, Context, ExecutionError};

/// A rule parsed once and shared by every evaluation of it.
pub(crate) struct Compiled {
    pub expression: Expression,
    /// Whether the rule reads `oldSelf`: it is then a transition rule, run
    /// only where an old value correlates.
    pub uses_old_self: bool,
}

thread_local! {
    /// The functions every rule may call, registered once per thread (a
    /// `Context` is not `Sync`); each evaluation adds its variables in an
    /// inner scope.
    static LIBRARY: Context<'static> = Context::default().with_all();
}

/// Parses `source`, or says why not in cel-go's words
/// (`ERROR: <input>:L:C: msg` then the source line and a caret line).
pub(crate) fn compile(source: &str) -> Result<Arc<Compiled>, String> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<Compiled>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(c) = cache.lock().unwrap_or_else(|p| p.into_inner()).get(source) {
        return Ok(c.clone());
    }
    let expression = Parser::new()
        .enable_optional_syntax(true)
        .parse(source)
        .map_err(|e| cel_go_issues(&e.to_string()))?;
    let uses_old_self = expression.references().has_variable("oldSelf");
    let compiled = Arc::new(Compiled {
        expression,
        uses_old_self,
    });
    cache
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(source.to_string(), compiled.clone());
    Ok(compiled)
}

/// cel-rust prints a snippet line as `| text`; cel-go as ` | text`.
fn cel_go_issues(text: &str) -> String {
    text.lines()
        .map(|l| {
            if l.starts_with('|') {
                format!(" {l}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Evaluates `compiled` with `self` (and `oldSelf` when there is one).
pub(crate) fn eval(
    compiled: &Compiled,
    this: cel::Value,
    old: Option<cel::Value>,
) -> Result<cel::Value, ExecutionError> {
    let mut vars = vec![("self", this)];
    if let Some(old) = old {
        vars.push(("oldSelf", old));
    }
    eval_with(compiled, vars)
}

/// Evaluates `compiled` with the named variables (admission policies'
/// `object`, `oldObject`, `request`, `params`, ...).
pub(crate) fn eval_with(
    compiled: &Compiled,
    vars: Vec<(&str, cel::Value)>,
) -> Result<cel::Value, ExecutionError> {
    LIBRARY.with(|library| {
        let mut ctx = library.new_inner_scope();
        for (name, value) in vars {
            ctx.add_variable_from_value(name, value);
        }
        ctx.resolve(&compiled.expression)
    })
}

/// A runtime error as cel-go's interpreter words it (the text kube-apiserver
/// puts before " evaluating rule: ...").
pub(crate) fn error_text(e: &ExecutionError) -> String {
    match e {
        ExecutionError::NoSuchKey(k) => format!("no such key: {k}"),
        ExecutionError::UndeclaredReference(r) => format!("no such attribute(s): {r}"),
        ExecutionError::IndexOutOfBounds(cel::Value::Int(i)) => {
            format!("index out of bounds: {i}")
        }
        ExecutionError::DivisionByZero(_) => "division by zero".into(),
        ExecutionError::RemainderByZero(_) => "modulus by zero".into(),
        ExecutionError::Overflow(..) => "integer overflow".into(),
        ExecutionError::NoSuchOverload
        | ExecutionError::UnsupportedBinaryOperator(..)
        | ExecutionError::ValuesNotComparable(..) => "no such overload".into(),
        ExecutionError::FunctionError { message, .. } => message.clone(),
        other => other.to_string(),
    }
}
