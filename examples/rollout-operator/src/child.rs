//! The child StatefulSet: what the operator wants it to be, and what it reads
//! back from it. Pure functions over k8s-openapi types.

use crate::crd::{CONTAINER, DEPLOYMENT_LABEL, NodeDeployment};
use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetSpec};
use k8s_openapi::api::core::v1::{Container, Pod, PodSpec, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use kube::{Resource, ResourceExt};
use std::collections::BTreeMap;

/// Labels on the child's pods (and its selector).
pub fn pod_labels(nd: &NodeDeployment) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".to_string(), "node".to_string()),
        (DEPLOYMENT_LABEL.to_string(), nd.name_any()),
    ])
}

/// The StatefulSet the operator creates for `nd`, running `image`.
pub fn desired(nd: &NodeDeployment, image: &str) -> StatefulSet {
    let labels = pod_labels(nd);
    StatefulSet {
        metadata: ObjectMeta {
            name: Some(nd.name_any()),
            namespace: nd.namespace(),
            labels: Some(labels.clone()),
            owner_references: nd.controller_owner_ref(&()).map(|r| vec![r]),
            ..ObjectMeta::default()
        },
        spec: Some(StatefulSetSpec {
            replicas: Some(nd.spec.replicas),
            service_name: Some(nd.name_any()),
            selector: LabelSelector {
                match_labels: Some(labels.clone()),
                ..LabelSelector::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    containers: vec![Container {
                        name: CONTAINER.to_string(),
                        image: Some(image.to_string()),
                        ..Container::default()
                    }],
                    ..PodSpec::default()
                }),
            },
            ..StatefulSetSpec::default()
        }),
        status: None,
    }
}

/// The image the child's pod template asks for.
pub fn spec_image(sts: &StatefulSet) -> Option<&str> {
    sts.spec
        .as_ref()?
        .template
        .spec
        .as_ref()?
        .containers
        .iter()
        .find(|c| c.name == CONTAINER)?
        .image
        .as_deref()
}

/// Desired replica count of the child.
pub fn spec_replicas(sts: &StatefulSet) -> i32 {
    sts.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

/// Ready replicas the StatefulSet controller reports.
pub fn ready_replicas(sts: &StatefulSet) -> i32 {
    sts.status
        .as_ref()
        .and_then(|s| s.ready_replicas)
        .unwrap_or(0)
}

/// Whether `sts` is controlled by `nd` (and so is ours to change).
pub fn owned_by(sts: &StatefulSet, nd: &NodeDeployment) -> bool {
    let uid = nd.meta().uid.as_deref();
    sts.owner_references()
        .iter()
        .any(|r| r.controller == Some(true) && Some(r.uid.as_str()) == uid)
}

/// Why the child has not converged on `image` yet, or `None` once the
/// StatefulSet controller reports it has: it saw the latest spec, every
/// replica is on the update revision, and every replica is ready.
pub fn convergence_gap(sts: &StatefulSet, image: &str, replicas: i32) -> Option<String> {
    if spec_image(sts) != Some(image) {
        return Some(format!(
            "template image is {}, not {image}",
            spec_image(sts).unwrap_or("<none>")
        ));
    }
    let Some(status) = sts.status.as_ref() else {
        return Some("no status reported yet".to_string());
    };
    let generation = sts.metadata.generation.unwrap_or(0);
    let observed = status.observed_generation.unwrap_or(0);
    if observed < generation {
        return Some(format!(
            "status.observedGeneration {observed} behind generation {generation}"
        ));
    }
    let updated = status.updated_replicas.unwrap_or(0);
    if updated < replicas {
        return Some(format!("{updated}/{replicas} replicas updated"));
    }
    if status.current_revision.is_none() || status.current_revision != status.update_revision {
        return Some(format!(
            "currentRevision {} != updateRevision {}",
            status.current_revision.as_deref().unwrap_or("<none>"),
            status.update_revision.as_deref().unwrap_or("<none>")
        ));
    }
    let ready = status.ready_replicas.unwrap_or(0);
    if ready < replicas {
        return Some(format!("{ready}/{replicas} replicas ready"));
    }
    None
}

/// The image a pod's `node` container reports running (kubelet's view).
pub fn observed_image(pod: &Pod) -> Option<&str> {
    pod.status
        .as_ref()?
        .container_statuses
        .as_ref()?
        .iter()
        .find(|c| c.name == CONTAINER)
        .map(|c| c.image.as_str())
}

/// Why the pods do not all run `image` yet, or `None` when `replicas` live
/// pods all report it.
pub fn image_gap(pods: &[Pod], image: &str, replicas: i32) -> Option<String> {
    let live: Vec<&Pod> = pods
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .collect();
    let on_image = live
        .iter()
        .filter(|p| observed_image(p) == Some(image))
        .count();
    let want = usize::try_from(replicas).unwrap_or(0);
    if live.len() != want || on_image != want {
        let mut names: Vec<String> = live
            .iter()
            .filter(|p| observed_image(p) != Some(image))
            .map(|p| format!("{}={}", p.name_any(), observed_image(p).unwrap_or("<none>")))
            .collect();
        names.sort();
        return Some(format!(
            "{on_image}/{want} pods report {image} ({} live{}{})",
            live.len(),
            if names.is_empty() { "" } else { "; " },
            names.join(", ")
        ));
    }
    None
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::StatefulSetStatus;
    use k8s_openapi::api::core::v1::{ContainerStatus, PodStatus};

    pub(crate) fn nd(image: &str) -> NodeDeployment {
        let mut nd = NodeDeployment::build("seid", 3, image);
        nd.metadata.namespace = Some("ns".into());
        nd.metadata.uid = Some("uid-1".into());
        nd.metadata.generation = Some(1);
        nd
    }

    /// A child as the StatefulSet controller leaves it once converged.
    pub(crate) fn converged_sts(nd: &NodeDeployment, image: &str) -> StatefulSet {
        let mut sts = desired(nd, image);
        sts.metadata.generation = Some(2);
        sts.status = Some(StatefulSetStatus {
            observed_generation: Some(2),
            replicas: 3,
            ready_replicas: Some(3),
            updated_replicas: Some(3),
            current_replicas: Some(3),
            current_revision: Some("rev-b".into()),
            update_revision: Some("rev-b".into()),
            ..StatefulSetStatus::default()
        });
        sts
    }

    pub(crate) fn pod(name: &str, image: &str) -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..ObjectMeta::default()
            },
            spec: None,
            status: Some(PodStatus {
                container_statuses: Some(vec![ContainerStatus {
                    name: CONTAINER.into(),
                    image: image.into(),
                    ready: true,
                    ..ContainerStatus::default()
                }]),
                ..PodStatus::default()
            }),
        }
    }

    pub(crate) fn pods(image: &str) -> Vec<Pod> {
        (0..3).map(|i| pod(&format!("seid-{i}"), image)).collect()
    }

    #[test]
    fn desired_child_is_owned_and_labelled() {
        let nd = nd("sei:v1");
        let sts = desired(&nd, "sei:v1");
        assert!(owned_by(&sts, &nd));
        assert_eq!(spec_image(&sts), Some("sei:v1"));
        assert_eq!(spec_replicas(&sts), 3);
        let spec = sts.spec.unwrap();
        assert_eq!(
            spec.selector.match_labels,
            spec.template.metadata.unwrap().labels
        );
    }

    #[test]
    fn convergence_requires_every_signal() {
        let nd = nd("sei:v2");
        assert_eq!(
            convergence_gap(&converged_sts(&nd, "sei:v2"), "sei:v2", 3),
            None
        );

        let old = converged_sts(&nd, "sei:v1");
        assert_eq!(
            convergence_gap(&old, "sei:v2", 3).unwrap(),
            "template image is sei:v1, not sei:v2"
        );

        let mut stale = converged_sts(&nd, "sei:v2");
        stale.metadata.generation = Some(3);
        assert_eq!(
            convergence_gap(&stale, "sei:v2", 3).unwrap(),
            "status.observedGeneration 2 behind generation 3"
        );

        let mut rolling = converged_sts(&nd, "sei:v2");
        rolling.status.as_mut().unwrap().updated_replicas = Some(1);
        assert_eq!(
            convergence_gap(&rolling, "sei:v2", 3).unwrap(),
            "1/3 replicas updated"
        );

        let mut revs = converged_sts(&nd, "sei:v2");
        revs.status.as_mut().unwrap().current_revision = Some("rev-a".into());
        assert_eq!(
            convergence_gap(&revs, "sei:v2", 3).unwrap(),
            "currentRevision rev-a != updateRevision rev-b"
        );

        let mut unready = converged_sts(&nd, "sei:v2");
        unready.status.as_mut().unwrap().ready_replicas = Some(2);
        assert_eq!(
            convergence_gap(&unready, "sei:v2", 3).unwrap(),
            "2/3 replicas ready"
        );

        let mut no_status = converged_sts(&nd, "sei:v2");
        no_status.status = None;
        assert!(convergence_gap(&no_status, "sei:v2", 3).is_some());
    }

    #[test]
    fn image_gap_names_the_lagging_pods() {
        assert_eq!(image_gap(&pods("sei:v2"), "sei:v2", 3), None);
        let mut mixed = pods("sei:v2");
        mixed[0] = pod("seid-0", "sei:v1");
        assert_eq!(
            image_gap(&mixed, "sei:v2", 3).unwrap(),
            "2/3 pods report sei:v2 (3 live; seid-0=sei:v1)"
        );
        assert_eq!(
            image_gap(&pods("sei:v2")[..2], "sei:v2", 3).unwrap(),
            "2/3 pods report sei:v2 (2 live)"
        );
        let mut terminating = pods("sei:v2");
        terminating[2].metadata.deletion_timestamp = Some(
            k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(jiff::Timestamp::UNIX_EPOCH),
        );
        assert!(
            image_gap(&terminating, "sei:v2", 3).is_some(),
            "a terminating pod does not count"
        );
    }
}
