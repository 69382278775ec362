//! The `APIService` objects kube-apiserver's aggregator keeps for the
//! groups it serves itself: "local" services (no `spec.service`), one per
//! group/version, always available. Clients read them to learn what a
//! cluster serves (`kubectl get apiservices`, kube-client's discovery tests,
//! readiness scripts that wait for `Available`); discovery lists groups in
//! their priority order.
//!
//! Built-in group/versions are registered at start-up
//! (`pkg/controlplane/apiserver/aggregator.go`, `apiServicesToRegister`,
//! labelled `onstart`); each served version of a CRD gets one while a CRD
//! serves it (`pkg/controlplane/controller/crdregistration`, labelled
//! `true`).

use serde_json::{Value, json};

use crate::registry::GroupResource;
use crate::store::ops::{self, Part, WriteOpts};
use crate::store::{State, meta};

/// The label the autoregister controller puts on what it manages
/// (`kube-aggregator/pkg/controllers/autoregister`).
const AUTOMANAGED: &str = "kube-aggregator.kubernetes.io/automanaged";

/// Group priorities and version priorities of the group/versions
/// kube-apiserver 1.33 serves by default: `DefaultGenericAPIServicePriorities`
/// (pkg/controlplane/apiserver/aggregator.go) merged with
/// `apiVersionPriorities` (cmd/kube-apiserver/app/aggregator.go). Entries
/// for versions this server does not serve make no object.
const PRIORITIES: &[(&str, &str, i64, i64)] = &[
    ("", "v1", 18000, 1),
    ("apps", "v1", 17800, 15),
    ("events.k8s.io", "v1", 17750, 15),
    ("authentication.k8s.io", "v1", 17700, 15),
    ("authorization.k8s.io", "v1", 17600, 15),
    ("autoscaling", "v2", 17500, 30),
    ("autoscaling", "v1", 17500, 15),
    ("batch", "v1", 17400, 15),
    ("certificates.k8s.io", "v1", 17300, 15),
    ("networking.k8s.io", "v1", 17200, 15),
    ("policy", "v1", 17100, 15),
    ("rbac.authorization.k8s.io", "v1", 17000, 15),
    ("storage.k8s.io", "v1", 16800, 15),
    ("apiextensions.k8s.io", "v1", 16700, 15),
    ("admissionregistration.k8s.io", "v1", 16700, 15),
    ("scheduling.k8s.io", "v1", 16600, 15),
    ("coordination.k8s.io", "v1", 16500, 15),
    ("node.k8s.io", "v1", 16300, 15),
    ("discovery.k8s.io", "v1", 16200, 15),
    ("flowcontrol.apiserver.k8s.io", "v1", 16100, 21),
];

pub(crate) const GROUP: &str = "apiregistration.k8s.io";

/// The priority a CRD's APIService gets ("CRDs should have relatively low
/// priority", crdregistration_controller.go), and its version priority.
const CRD_GROUP_PRIORITY: i64 = 1000;
const CRD_VERSION_PRIORITY: i64 = 100;

/// Where a group sorts in discovery, highest first: the aggregator lists
/// its own group first (`APIRegistrationGroupPriority`, 20001, in
/// kube-aggregator's handler_discovery.go), then by group priority, ties by
/// name (`ByGroupPriorityMinimum`).
pub(crate) fn group_priority(group: &str) -> i64 {
    if group == GROUP {
        return 20001;
    }
    PRIORITIES
        .iter()
        .filter(|(g, ..)| *g == group)
        .map(|(_, _, p, _)| *p)
        .max()
        .unwrap_or(CRD_GROUP_PRIORITY)
}

fn info(st: &State) -> std::sync::Arc<crate::registry::ResourceInfo> {
    st.resources
        .get(&GroupResource::new(GROUP, "apiservices"))
        .expect("apiservices registered")
        .info
        .clone()
}

/// One local APIService, created and then marked available, as the
/// autoregister controller and the local availability controller write it.
fn register(st: &mut State, group: &str, version: &str, priorities: (i64, i64), managed: &str) {
    let info = info(st);
    let name = format!("{version}.{group}");
    let obj = json!({
        "apiVersion": "apiregistration.k8s.io/v1",
        "kind": "APIService",
        "metadata": {"name": name, "labels": {AUTOMANAGED: managed}},
        "spec": {
            "group": group,
            "version": version,
            "groupPriorityMinimum": priorities.0,
            "versionPriority": priorities.1,
        },
    });
    let opts = || WriteOpts {
        manager: Some("kube-apiserver".into()),
        ..WriteOpts::default()
    };
    let Ok(created) = ops::create(st, &info, "v1", None, obj, opts()) else {
        // A validating admission policy or a name taken by hand: upstream's
        // controller retries and logs; nothing here to retry for.
        return;
    };
    let mut available = (*created).clone();
    available["status"] = json!({"conditions": [{
        "type": "Available",
        "status": "True",
        "lastTransitionTime": st.now(),
        "reason": "Local",
        "message": "Local APIServices are always available",
    }]});
    let _ = ops::update(
        st,
        &info,
        "v1",
        None,
        &name,
        available,
        Part::Status,
        opts(),
    );
}

/// The start-up registrations: one APIService per built-in group/version
/// the server serves.
pub(crate) fn register_builtin(st: &mut State) {
    let served: Vec<(String, String)> = st
        .resources
        .values()
        .filter(|rs| !rs.info.custom)
        .flat_map(|rs| {
            rs.info
                .versions
                .iter()
                .map(|v| (rs.info.group.clone(), v.clone()))
        })
        .collect();
    for (group, version, gpm, vp) in PRIORITIES {
        if served.iter().any(|(g, v)| g == group && v == version) {
            register(st, group, version, (*gpm, *vp), "onstart");
        }
    }
}

/// Brings a CRD group's APIServices in line with the versions its CRDs
/// serve: one per served version, none for a version no CRD serves any
/// more. A built-in group/version keeps its own (`APIServiceAlreadyExists`).
pub(crate) fn sync_crd_group(st: &mut State, group: &str) {
    if group.is_empty() || PRIORITIES.iter().any(|(g, ..)| *g == group) {
        return;
    }
    let served: Vec<String> = st
        .resources
        .values()
        .filter(|rs| rs.info.custom && rs.info.group == group)
        .flat_map(|rs| rs.info.versions.clone())
        .collect();
    let gr = GroupResource::new(GROUP, "apiservices");
    let existing: Vec<(crate::store::ObjRef, String, bool)> = st
        .resources
        .get(&gr)
        .map(|rs| {
            rs.objects
                .iter()
                .filter(|(_, o)| text(o, "/spec/group") == group)
                .map(|(key, o)| {
                    let label = meta::labels(o).and_then(|l| l.get(AUTOMANAGED));
                    let managed = label == Some(&Value::from("true"));
                    let at = crate::store::ObjRef {
                        gr: gr.clone(),
                        key: key.clone(),
                    };
                    (at, text(o, "/spec/version").to_string(), managed)
                })
                .collect()
        })
        .unwrap_or_default();
    for (at, version, managed) in &existing {
        if *managed && !served.contains(version) {
            st.remove(at);
        }
    }
    for version in &served {
        if !existing.iter().any(|(_, v, _)| v == version) {
            let priorities = (CRD_GROUP_PRIORITY, CRD_VERSION_PRIORITY);
            register(st, group, version, priorities, "true");
        }
    }
}

fn text<'a>(obj: &'a Value, ptr: &str) -> &'a str {
    obj.pointer(ptr).and_then(Value::as_str).unwrap_or_default()
}
