//! What the server serves: one [`ResourceInfo`] per group/resource, built in
//! (from the kinds k8s-openapi models) or registered by a CRD.

mod builtin;

pub(crate) use builtin::builtin_resources;

use serde_json::Value;

/// Group + plural: the storage identity of a resource (all versions share it).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct GroupResource {
    pub group: String,
    pub plural: String,
}

impl GroupResource {
    pub(crate) fn new(group: &str, plural: &str) -> Self {
        Self {
            group: group.into(),
            plural: plural.into(),
        }
    }

    /// `pods`, `deployments.apps`: how kube-apiserver names a resource in
    /// messages and metric labels (`schema.GroupResource.String()`).
    pub(crate) fn qualified(&self) -> String {
        qualified(&self.group, &self.plural)
    }
}

/// [`GroupResource::qualified`] for borrowed names.
pub(crate) fn qualified(group: &str, plural: &str) -> String {
    if group.is_empty() {
        plural.to_string()
    } else {
        format!("{plural}.{group}")
    }
}

/// How deleting an owner treats its dependents when the client does not say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Propagation {
    Background,
    Foreground,
    Orphan,
}

impl Propagation {
    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "Background" => Some(Self::Background),
            "Foreground" => Some(Self::Foreground),
            "Orphan" => Some(Self::Orphan),
            _ => None,
        }
    }
}

/// Where a scalable resource keeps its replica counts (the `/scale` view).
#[derive(Debug, Clone)]
pub(crate) struct ScalePaths {
    /// Dotted JSON path, e.g. `.spec.replicas`.
    pub spec_replicas: String,
    pub status_replicas: String,
    /// Path to either a `LabelSelector` object or a selector string.
    pub label_selector: Option<String>,
}

/// A column of `kubectl get` output.
#[derive(Debug, Clone)]
pub(crate) struct PrinterColumn {
    pub name: String,
    pub type_: String,
    pub format: String,
    pub description: String,
    pub priority: i64,
    /// A simple JSONPath (`.status.phase`) for CRD columns; built-ins
    /// compute their cells in the `table` module instead.
    pub json_path: String,
}

/// Everything the REST layer needs to know about one resource.
#[derive(Debug, Clone)]
pub(crate) struct ResourceInfo {
    pub group: String,
    /// Served versions, preferred first.
    pub versions: Vec<String>,
    pub kind: String,
    pub plural: String,
    pub singular: String,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    pub namespaced: bool,
    pub status: bool,
    pub scale: Option<ScalePaths>,
    /// Per-version printer columns (CRDs); empty means built-in/default.
    pub printer_columns: Vec<(String, Vec<PrinterColumn>)>,
    /// Per-version `openAPIV3Schema` (CRDs only) for validation and pruning.
    pub schemas: Vec<(String, Value)>,
    pub custom: bool,
    /// Field paths usable in `fieldSelector` besides metadata.name/namespace.
    pub field_selectors: Vec<String>,
    /// Whether `metadata.generation` is maintained.
    pub generation: bool,
    pub default_propagation: Propagation,
    /// Whether PUT without `metadata.resourceVersion` is allowed.
    pub unconditional_update: bool,
    /// A review (`SubjectAccessReview`, `TokenReview`, …): create is its
    /// only verb and the answer is computed from the request, never stored.
    pub review: bool,
}

impl ResourceInfo {
    pub(crate) fn gr(&self) -> GroupResource {
        GroupResource::new(&self.group, &self.plural)
    }

    pub(crate) fn api_version(&self, version: &str) -> String {
        if self.group.is_empty() {
            version.to_string()
        } else {
            format!("{}/{}", self.group, version)
        }
    }

    pub(crate) fn serves(&self, version: &str) -> bool {
        self.versions.iter().any(|v| v == version)
    }

    pub(crate) fn columns(&self, version: &str) -> Option<&[PrinterColumn]> {
        self.printer_columns
            .iter()
            .find(|(v, _)| v == version)
            .map(|(_, c)| c.as_slice())
    }

    pub(crate) fn schema(&self, version: &str) -> Option<&Value> {
        self.schemas
            .iter()
            .find(|(v, _)| v == version)
            .map(|(_, s)| s)
    }

    /// Namespaces have no collection delete in kube-apiserver (their REST
    /// storage is no `CollectionDeleter`), reviews are only a `Creater`;
    /// every other kind has the full set.
    pub(crate) fn verbs(&self) -> Vec<&'static str> {
        if self.review {
            return vec!["create"];
        }
        let mut verbs = vec![
            "create",
            "delete",
            "deletecollection",
            "get",
            "list",
            "patch",
            "update",
            "watch",
        ];
        if !self.custom && self.group.is_empty() && self.plural == "namespaces" {
            verbs.retain(|v| *v != "deletecollection");
        }
        verbs
    }
}
