//! The thin, impure half of the faker: read the world through a
//! `kube::Client`, run the pure controllers, apply their writes.

use k8s_openapi::api::apps::v1::{ControllerRevision, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{Node, PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::storage::v1::VolumeAttachment;
use kube::Client;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use serde::de::DeserializeOwned;
use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering};

use super::model::{EventSpec, Kind, Target, World, Write};

/// Field manager the faker's patches are recorded under.
pub(crate) const FIELD_MANAGER: &str = "kube-harness-faker";

async fn list<K>(client: &Client, ns: Option<&str>) -> Result<Vec<K>, kube::Error>
where
    K: kube::Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
{
    let api: Api<K> = match ns {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    Ok(api.list(&ListParams::default()).await?.items)
}

async fn list_cluster<K>(client: &Client) -> Result<Vec<K>, kube::Error>
where
    K: kube::Resource<DynamicType = (), Scope = k8s_openapi::ClusterResourceScope>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug,
{
    let api: Api<K> = Api::all(client.clone());
    Ok(api.list(&ListParams::default()).await?.items)
}

/// The cluster's current resourceVersion. A list's resourceVersion is the
/// store's latest revision across every resource (etcd's on a real cluster,
/// the embedded server's counter), so when it has not moved nothing has
/// changed, and the last world read is still the world.
pub(crate) async fn revision(client: &Client) -> Result<String, kube::Error> {
    let nodes: Api<Node> = Api::all(client.clone());
    let list = nodes.list_metadata(&ListParams::default().limit(1)).await?;
    Ok(list.metadata.resource_version.unwrap_or_default())
}

/// Read everything the controllers look at. Namespaced kinds come from `ns`
/// (or every namespace if `None`).
pub(crate) async fn read_world(client: &Client, ns: Option<&str>) -> Result<World, kube::Error> {
    Ok(World {
        statefulsets: list::<StatefulSet>(client, ns).await?,
        deployments: list::<Deployment>(client, ns).await?,
        replicasets: list::<ReplicaSet>(client, ns).await?,
        revisions: list::<ControllerRevision>(client, ns).await?,
        pods: list::<Pod>(client, ns).await?,
        pvcs: list::<PersistentVolumeClaim>(client, ns).await?,
        pdbs: list::<PodDisruptionBudget>(client, ns).await?,
        pvs: list_cluster::<PersistentVolume>(client).await?,
        nodes: list_cluster::<Node>(client).await?,
        attachments: list_cluster::<VolumeAttachment>(client).await?,
        jobs: list::<k8s_openapi::api::batch::v1::Job>(client, ns).await?,
    })
}

fn dynamic(client: &Client, kind: Kind, ns: Option<&str>) -> Api<DynamicObject> {
    let ar = kind.api_resource();
    match (kind.cluster_scoped(), ns) {
        (false, Some(ns)) => Api::namespaced_with(client.clone(), ns, &ar),
        _ => Api::all_with(client.clone(), &ar),
    }
}

fn target_api(client: &Client, t: &Target) -> Api<DynamicObject> {
    dynamic(client, t.kind, t.namespace.as_deref())
}

static EVENT_SERIAL: AtomicU64 = AtomicU64::new(0);

/// Apply one write. Conflicts and NotFound are normal (the world moved since
/// the read); the next round recomputes from fresh state.
pub(crate) async fn apply(
    client: &Client,
    w: &Write,
    stamp: jiff::Timestamp,
) -> Result<(), kube::Error> {
    let pp = PatchParams {
        field_manager: Some(FIELD_MANAGER.to_owned()),
        ..PatchParams::default()
    };
    match w {
        Write::Create { kind, object } => {
            let ns = object
                .pointer("/metadata/namespace")
                .and_then(|v| v.as_str());
            let obj: DynamicObject =
                serde_json::from_value(object.clone()).map_err(kube::Error::SerdeError)?;
            dynamic(client, *kind, ns)
                .create(&PostParams::default(), &obj)
                .await?;
        }
        Write::Patch { target, patch } => {
            let api = target_api(client, target);
            match api.patch(&target.name, &pp, &Patch::Merge(patch)).await {
                Err(kube::Error::Api(e)) if patch_unsupported(e.code) => {
                    read_modify_write(&api, &target.name, patch, false).await?
                }
                other => drop(other?),
            }
        }
        Write::PatchStatus { target, patch } => {
            let api = target_api(client, target);
            match api
                .patch_status(&target.name, &pp, &Patch::Merge(patch))
                .await
            {
                Err(kube::Error::Api(e)) if patch_unsupported(e.code) => {
                    read_modify_write(&api, &target.name, patch, true).await?
                }
                other => drop(other?),
            }
        }
        Write::Delete {
            target,
            grace_seconds,
        } => {
            let dp = DeleteParams {
                grace_period_seconds: grace_seconds.map(|g| g as u32),
                ..DeleteParams::default()
            };
            target_api(client, target).delete(&target.name, &dp).await?;
        }
        Write::Bind {
            namespace,
            pod,
            node,
        } => bind(client, namespace, pod, node).await?,
        Write::Event(ev) => {
            record_event(client, ev, stamp).await?;
        }
    }
    Ok(())
}

/// 415/405: a server without PATCH support for this resource.
pub(crate) fn patch_unsupported(code: u16) -> bool {
    matches!(code, 405 | 415)
}

/// The same merge patch applied client-side and written back with PUT
/// (guarded by resourceVersion, so a concurrent change makes it a 409 and the
/// next round retries).
pub(crate) async fn read_modify_write(
    api: &Api<DynamicObject>,
    name: &str,
    patch: &serde_json::Value,
    status: bool,
) -> Result<(), kube::Error> {
    let current = api.get(name).await?;
    let mut value = serde_json::to_value(&current).map_err(kube::Error::SerdeError)?;
    super::model::apply_merge(&mut value, patch);
    let pp = PostParams::default();
    let obj: DynamicObject = serde_json::from_value(value).map_err(kube::Error::SerdeError)?;
    if status {
        api.replace_status(name, &pp, &obj).await?;
    } else {
        api.replace(name, &pp, &obj).await?;
    }
    Ok(())
}

/// The scheduler binds through `pods/binding`; a server without that
/// subresource gets `spec.nodeName` patched instead (same observable result).
async fn bind(client: &Client, ns: &str, pod: &str, node: &str) -> Result<(), kube::Error> {
    let binding = json!({
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": pod, "namespace": ns},
        "target": {"apiVersion": "v1", "kind": "Node", "name": node},
    });
    let url = format!("/api/v1/namespaces/{ns}/pods/{pod}/binding");
    let req = http::Request::post(url)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(serde_json::to_vec(&binding).map_err(kube::Error::SerdeError)?)
        .map_err(kube::Error::HttpError)?;
    match client.request::<serde_json::Value>(req).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if matches!(e.code, 404 | 405) => {
            let api = dynamic(client, Kind::Pod, Some(ns));
            let patch = json!({"spec": {"nodeName": node}});
            match api
                .patch(pod, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                Err(kube::Error::Api(e)) if patch_unsupported(e.code) => {
                    read_modify_write(&api, pod, &patch, false).await
                }
                other => other.map(|_| ()),
            }
        }
        // A client that cannot decode the Status reply still bound the pod.
        Err(kube::Error::SerdeError(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

async fn record_event(
    client: &Client,
    ev: &EventSpec,
    stamp: jiff::Timestamp,
) -> Result<(), kube::Error> {
    let ns = ev
        .regarding
        .namespace
        .clone()
        .unwrap_or_else(|| "default".into());
    let serial = EVENT_SERIAL.fetch_add(1, Ordering::Relaxed);
    let name = format!(
        "{}.{:x}{:06x}",
        ev.regarding.name,
        stamp.as_second(),
        serial
    );
    let ts = jiff::Timestamp::from_second(stamp.as_second())
        .unwrap_or(stamp)
        .to_string();
    let body = json!({
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": name, "namespace": ns},
        "involvedObject": {
            "apiVersion": ev.regarding.api_version,
            "kind": ev.regarding.kind,
            "namespace": ev.regarding.namespace,
            "name": ev.regarding.name,
            "uid": ev.regarding.uid,
        },
        "reason": ev.reason,
        "message": ev.message,
        "type": ev.type_,
        "source": {"component": ev.component, "host": ev.host},
        "reportingComponent": ev.component,
        "reportingInstance": ev.host.clone().unwrap_or_else(|| ev.component.to_owned()),
        "firstTimestamp": ts,
        "lastTimestamp": ts,
        "eventTime": serde_json::Value::Null,
        "count": 1,
        "action": ev.reason,
    });
    let obj: DynamicObject = serde_json::from_value(body).map_err(kube::Error::SerdeError)?;
    dynamic(client, Kind::Event, Some(&ns))
        .create(&PostParams::default(), &obj)
        .await?;
    Ok(())
}
