//! The built-in kinds, with the names, scopes, subresources and field
//! selectors kube-apiserver 1.33 declares for them.

use super::{Propagation, ResourceInfo, ScalePaths};

struct Def {
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    short: &'static [&'static str],
    namespaced: bool,
    status: bool,
    scale: bool,
    generation: bool,
    fields: &'static [&'static str],
    categories: &'static [&'static str],
    review: bool,
}

const fn def(
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    namespaced: bool,
) -> Def {
    Def {
        group,
        version,
        kind,
        plural,
        short: &[],
        namespaced,
        status: false,
        scale: false,
        generation: false,
        fields: &[],
        categories: &[],
        review: false,
    }
}

impl Def {
    const fn short(mut self, s: &'static [&'static str]) -> Self {
        self.short = s;
        self
    }
    const fn status(mut self) -> Self {
        self.status = true;
        self
    }
    const fn scale(mut self) -> Self {
        self.scale = true;
        self
    }
    const fn generation(mut self) -> Self {
        self.generation = true;
        self
    }
    const fn fields(mut self, f: &'static [&'static str]) -> Self {
        self.fields = f;
        self
    }
    const fn all(mut self) -> Self {
        self.categories = &["all"];
        self
    }
    /// A create-only kind whose answer is computed, never stored (the
    /// authentication and authorization reviews).
    const fn review(mut self) -> Self {
        self.review = true;
        self
    }
    /// The category `kubectl get api-extensions` lists: CRDs, API services,
    /// webhook configurations and admission policies.
    const fn api_extensions(mut self) -> Self {
        self.categories = &["api-extensions"];
        self
    }
}

const EVENT_FIELDS: &[&str] = &[
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
];

const NEW_EVENT_FIELDS: &[&str] = &[
    "regarding.kind",
    "regarding.namespace",
    "regarding.name",
    "regarding.uid",
    "regarding.apiVersion",
    "regarding.resourceVersion",
    "regarding.fieldPath",
    "reason",
    "reportingController",
    "type",
];

const DEFS: &[Def] = &[
    // 1.33's podStrategy sets generation 1 and bumps it on spec changes
    // (`updatePodGeneration` in pkg/registry/core/pod/strategy.go).
    def("", "v1", "Pod", "pods", true)
        .short(&["po"])
        .status()
        .generation()
        .all()
        .fields(&[
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        ]),
    def("", "v1", "Service", "services", true)
        .short(&["svc"])
        .status()
        .all(),
    def("", "v1", "Endpoints", "endpoints", true).short(&["ep"]),
    def("", "v1", "ConfigMap", "configmaps", true).short(&["cm"]),
    def("", "v1", "Secret", "secrets", true).fields(&["type"]),
    def("", "v1", "Namespace", "namespaces", false)
        .short(&["ns"])
        .status()
        .fields(&["status.phase"]),
    def("", "v1", "Node", "nodes", false)
        .short(&["no"])
        .status()
        .fields(&["spec.unschedulable"]),
    def("", "v1", "PersistentVolume", "persistentvolumes", false)
        .short(&["pv"])
        .status(),
    def(
        "",
        "v1",
        "PersistentVolumeClaim",
        "persistentvolumeclaims",
        true,
    )
    .short(&["pvc"])
    .status(),
    def("", "v1", "ServiceAccount", "serviceaccounts", true).short(&["sa"]),
    def("", "v1", "Event", "events", true)
        .short(&["ev"])
        .fields(EVENT_FIELDS),
    def(
        "",
        "v1",
        "ReplicationController",
        "replicationcontrollers",
        true,
    )
    .short(&["rc"])
    .status()
    .scale()
    .generation()
    .all()
    .fields(&["status.replicas"]),
    def("", "v1", "LimitRange", "limitranges", true).short(&["limits"]),
    def("", "v1", "ResourceQuota", "resourcequotas", true)
        .short(&["quota"])
        .status(),
    def("", "v1", "PodTemplate", "podtemplates", true),
    def("apps", "v1", "Deployment", "deployments", true)
        .short(&["deploy"])
        .status()
        .scale()
        .generation()
        .all(),
    def("apps", "v1", "StatefulSet", "statefulsets", true)
        .short(&["sts"])
        .status()
        .scale()
        .generation()
        .all(),
    def("apps", "v1", "DaemonSet", "daemonsets", true)
        .short(&["ds"])
        .status()
        .generation()
        .all(),
    def("apps", "v1", "ReplicaSet", "replicasets", true)
        .short(&["rs"])
        .status()
        .scale()
        .generation()
        .all()
        .fields(&["status.replicas"]),
    def(
        "apps",
        "v1",
        "ControllerRevision",
        "controllerrevisions",
        true,
    ),
    def("batch", "v1", "Job", "jobs", true)
        .status()
        .generation()
        .all()
        .fields(&["status.successful"]),
    def("batch", "v1", "CronJob", "cronjobs", true)
        .short(&["cj"])
        .status()
        .generation()
        .all(),
    def("coordination.k8s.io", "v1", "Lease", "leases", true),
    // No generation: none of the three CSR strategies sets one.
    def(
        "certificates.k8s.io",
        "v1",
        "CertificateSigningRequest",
        "certificatesigningrequests",
        false,
    )
    .short(&["csr"])
    .status()
    .fields(&["spec.signerName"]),
    def(
        "autoscaling",
        "v2",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        true,
    )
    .short(&["hpa"])
    .status()
    .all(),
    def("networking.k8s.io", "v1", "Ingress", "ingresses", true)
        .short(&["ing"])
        .status()
        .generation(),
    def(
        "networking.k8s.io",
        "v1",
        "IngressClass",
        "ingressclasses",
        false,
    )
    .generation(),
    def(
        "networking.k8s.io",
        "v1",
        "NetworkPolicy",
        "networkpolicies",
        true,
    )
    .short(&["netpol"])
    .generation(),
    def(
        "scheduling.k8s.io",
        "v1",
        "PriorityClass",
        "priorityclasses",
        false,
    )
    .short(&["pc"])
    .generation(),
    def("node.k8s.io", "v1", "RuntimeClass", "runtimeclasses", false),
    def(
        "discovery.k8s.io",
        "v1",
        "EndpointSlice",
        "endpointslices",
        true,
    )
    .generation(),
    def("events.k8s.io", "v1", "Event", "events", true)
        .short(&["ev"])
        .fields(NEW_EVENT_FIELDS),
    def(
        "storage.k8s.io",
        "v1",
        "StorageClass",
        "storageclasses",
        false,
    )
    .short(&["sc"]),
    def(
        "storage.k8s.io",
        "v1",
        "VolumeAttachment",
        "volumeattachments",
        false,
    )
    .status(),
    def("storage.k8s.io", "v1", "CSIDriver", "csidrivers", false),
    def("storage.k8s.io", "v1", "CSINode", "csinodes", false),
    def(
        "storage.k8s.io",
        "v1",
        "CSIStorageCapacity",
        "csistoragecapacities",
        true,
    ),
    def(
        "policy",
        "v1",
        "PodDisruptionBudget",
        "poddisruptionbudgets",
        true,
    )
    .short(&["pdb"])
    .status()
    .generation(),
    def(
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        false,
    )
    .short(&["crd", "crds"])
    .status()
    .generation()
    .api_extensions(),
    def(
        "admissionregistration.k8s.io",
        "v1",
        "ValidatingWebhookConfiguration",
        "validatingwebhookconfigurations",
        false,
    )
    .generation()
    .api_extensions(),
    def(
        "admissionregistration.k8s.io",
        "v1",
        "MutatingWebhookConfiguration",
        "mutatingwebhookconfigurations",
        false,
    )
    .generation()
    .api_extensions(),
    def(
        "admissionregistration.k8s.io",
        "v1",
        "ValidatingAdmissionPolicy",
        "validatingadmissionpolicies",
        false,
    )
    .status()
    .generation()
    .api_extensions(),
    def(
        "admissionregistration.k8s.io",
        "v1",
        "ValidatingAdmissionPolicyBinding",
        "validatingadmissionpolicybindings",
        false,
    )
    .generation()
    .api_extensions(),
    def(
        "apiregistration.k8s.io",
        "v1",
        "APIService",
        "apiservices",
        false,
    )
    .status()
    .api_extensions(),
    def(
        "authentication.k8s.io",
        "v1",
        "TokenReview",
        "tokenreviews",
        false,
    )
    .review(),
    def(
        "authentication.k8s.io",
        "v1",
        "SelfSubjectReview",
        "selfsubjectreviews",
        false,
    )
    .review(),
    def(
        "authorization.k8s.io",
        "v1",
        "LocalSubjectAccessReview",
        "localsubjectaccessreviews",
        true,
    )
    .review(),
    def(
        "authorization.k8s.io",
        "v1",
        "SelfSubjectAccessReview",
        "selfsubjectaccessreviews",
        false,
    )
    .review(),
    def(
        "authorization.k8s.io",
        "v1",
        "SelfSubjectRulesReview",
        "selfsubjectrulesreviews",
        false,
    )
    .review(),
    def(
        "authorization.k8s.io",
        "v1",
        "SubjectAccessReview",
        "subjectaccessreviews",
        false,
    )
    .review(),
    def("rbac.authorization.k8s.io", "v1", "Role", "roles", true),
    def(
        "rbac.authorization.k8s.io",
        "v1",
        "RoleBinding",
        "rolebindings",
        true,
    ),
    def(
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRole",
        "clusterroles",
        false,
    ),
    def(
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRoleBinding",
        "clusterrolebindings",
        false,
    ),
];

pub(crate) fn builtin_resources() -> Vec<ResourceInfo> {
    DEFS.iter()
        .map(|d| ResourceInfo {
            group: d.group.into(),
            versions: vec![d.version.into()],
            kind: d.kind.into(),
            plural: d.plural.into(),
            singular: d.kind.to_lowercase(),
            short_names: d.short.iter().map(|s| s.to_string()).collect(),
            categories: d.categories.iter().map(|s| s.to_string()).collect(),
            namespaced: d.namespaced,
            status: d.status,
            scale: d.scale.then(|| ScalePaths {
                spec_replicas: ".spec.replicas".into(),
                status_replicas: ".status.replicas".into(),
                label_selector: Some(".spec.selector".into()),
            }),
            printer_columns: Vec::new(),
            schemas: Vec::new(),
            custom: false,
            field_selectors: d.fields.iter().map(|s| s.to_string()).collect(),
            generation: d.generation,
            // batch/v1 Jobs and core/v1 ReplicationControllers orphan by
            // default for backwards compatibility; kubectl always says.
            default_propagation: match (d.group, d.plural) {
                ("batch", "jobs") | ("", "replicationcontrollers") => Propagation::Orphan,
                _ => Propagation::Background,
            },
            unconditional_update: true,
            review: d.review,
        })
        .collect()
}
