//! `_wpool.Guest`: a guest loaded into one pool, and the signatures of its
//! exports (which the Python layer turns into callables).

use std::collections::HashMap;
use std::sync::Arc;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use wpool::{LoadedGuest, Value};

use crate::convert::{self, Shape};

/// One export as Python sees it: `(name, param_names, param_types,
/// result_types, signature)`.
type ExportInfo = (String, Vec<String>, Vec<String>, Vec<String>, String);

/// A guest compiled and linked for one pool's workers.
#[pyclass(name = "Guest", module = "wpool._wpool", frozen)]
pub(crate) struct PyGuest {
    pub(crate) inner: LoadedGuest,
    /// Parameter names and WIT types per export, for argument errors.
    params: HashMap<String, Vec<(String, String)>>,
    /// For exports whose result holds tuples: where they are.
    shapes: HashMap<String, Arc<Shape>>,
}

impl PyGuest {
    pub(crate) fn new(inner: LoadedGuest) -> Self {
        let params = inner
            .functions()
            .iter()
            .map(|f| {
                let names = f.param_names().into_iter().map(|n| n.replace('-', "_"));
                (f.name().to_owned(), names.zip(f.param_types()).collect())
            })
            .collect();
        let shapes = inner
            .functions()
            .iter()
            .filter_map(|f| match f.result_types().as_slice() {
                [single] => Shape::parse(single).map(|s| (f.name().to_owned(), Arc::new(s))),
                _ => None,
            })
            .collect();
        PyGuest {
            inner,
            params,
            shapes,
        }
    }

    /// Where `func`'s result has tuples, if it has any.
    pub(crate) fn shape(&self, func: &str) -> Option<Arc<Shape>> {
        self.shapes.get(func).cloned()
    }

    /// Converts the positional arguments of a call to `func`, checking their
    /// number; their types are checked against the signature afterwards.
    pub(crate) fn convert_args(
        &self,
        func: &str,
        args: &Bound<'_, PyTuple>,
    ) -> PyResult<Vec<Value>> {
        let Some(params) = self.params.get(func) else {
            let names: Vec<&str> = self.inner.functions().iter().map(|f| f.name()).collect();
            return Err(PyTypeError::new_err(format!(
                "guest `{}` has no function `{func}`; it exports {}",
                self.inner.name(),
                names.join(", ")
            )));
        };
        if args.len() != params.len() {
            let wanted: Vec<String> = params.iter().map(|(n, t)| format!("{n}: {t}")).collect();
            return Err(PyTypeError::new_err(format!(
                "{}() takes {} argument{} ({}), got {}",
                func.replace('-', "_"),
                params.len(),
                if params.len() == 1 { "" } else { "s" },
                wanted.join(", "),
                args.len()
            )));
        }
        args.iter()
            .zip(params)
            .map(|(arg, (name, wit))| convert::to_value(&arg, name, wit))
            .collect()
    }
}

#[pymethods]
impl PyGuest {
    /// The guest's name (`heavy_calc`, or the file's stem).
    #[getter]
    fn name(&self) -> &str {
        self.inner.name()
    }

    /// The guest's WIT world as text, when it is a component.
    #[getter]
    fn wit(&self) -> Option<&str> {
        self.inner.wit()
    }

    /// The exports, in order, as tuples `(name, param_names, param_types,
    /// result_types, signature)`.
    fn functions(&self) -> Vec<ExportInfo> {
        self.inner
            .functions()
            .iter()
            .map(|f| {
                (
                    f.name().to_owned(),
                    f.param_names(),
                    f.param_types(),
                    f.result_types(),
                    f.signature(),
                )
            })
            .collect()
    }

    fn __repr__(&self) -> String {
        format!("<wpool._wpool.Guest {:?}>", self.inner.name())
    }
}
