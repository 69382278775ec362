//! Volume attach and detach for CSI volumes: the half of a pod restart a
//! stateful app feels most (seed 004: a ReadWriteOnce volume stays attached to
//! the old node while the replacement pod waits on the new one).
//!
//! Upstream references:
//! - the attach/detach controller, kube-controller-manager
//!   `pkg/controller/volume/attachdetach`: a volume is wanted on a node while a
//!   pod scheduled there, not yet removed from the API, uses it; the reconciler
//!   attaches wanted volumes and detaches unwanted ones. It refuses to attach a
//!   ReadWriteOnce volume still attached elsewhere and says so on the pod:
//!   `FailedAttachVolume` "Multi-Attach error for volume … Volume is already
//!   exclusively attached to one node and can't be attached to another"; on
//!   success it records `SuccessfulAttachVolume` "AttachVolume.Attach
//!   succeeded for volume …" on the pod (`pkg/volume/util/operationexecutor`).
//! - the CSI attacher plugin `pkg/volume/csi/csi_attacher.go`: one
//!   `storage.k8s.io/v1` VolumeAttachment per (volume, node), named `csi-` +
//!   a hash of volume handle, driver and node (upstream SHA-256; here the
//!   faker's FNV hash, so names differ from a real cluster's), with
//!   `spec.attacher`, `spec.nodeName`, `spec.source.persistentVolumeName`;
//!   detach deletes it. The kubelet's `WaitForAttach` polls
//!   `status.attached` before mounting, so containers do not start earlier.
//! - the external-attacher sidecar: puts its finalizer
//!   `external-attacher/<driver>` on the VolumeAttachment, calls
//!   ControllerPublish and sets `status.attached: true`; on deletion it calls
//!   ControllerUnpublish and removes the finalizer, so a detaching volume is
//!   a VolumeAttachment with a `deletionTimestamp`.
//!
//! Not modelled: `node.status.volumesAttached`/`volumesInUse` (the kubelet
//! reports unmount before a detach; here the old pod leaving the API stands
//! for it) and the 6-minute forced detach of an unreachable node.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{PersistentVolume, Pod};
use k8s_openapi::api::storage::v1::VolumeAttachment;
use serde_json::json;

use super::model::{
    EventSpec, Kind, Memory, ObjRef, Round, Target, Write, is_finished, is_terminating, name,
    say_once, short_hash,
};

/// The VolumeAttachment name for a volume on a node (see module docs).
pub(super) fn attachment_name(handle: &str, driver: &str, node: &str) -> String {
    format!("csi-{}", short_hash(&json!([handle, driver, node])))
}

/// The CSI driver and volume handle of a PV, if it is a CSI volume.
fn csi(pv: &PersistentVolume) -> Option<(&str, &str)> {
    let csi = pv.spec.as_ref()?.csi.as_ref()?;
    Some((csi.driver.as_str(), csi.volume_handle.as_str()))
}

fn read_write_once(pv: &PersistentVolume) -> bool {
    pv.spec
        .as_ref()
        .and_then(|s| s.access_modes.as_ref())
        .is_some_and(|m| {
            m.iter()
                .any(|m| m == "ReadWriteOnce" || m == "ReadWriteOncePod")
        })
}

/// The CSI PVs a pod mounts through its claims.
fn pod_volumes<'a>(r: &'a Round, pod: &Pod) -> Vec<&'a PersistentVolume> {
    let ns = pod.metadata.namespace.as_deref();
    let Some(spec) = pod.spec.as_ref() else {
        return Vec::new();
    };
    spec.volumes
        .iter()
        .flatten()
        .filter_map(|v| v.persistent_volume_claim.as_ref())
        .filter_map(|c| {
            let pvc = r.world.pvcs.iter().find(|p| {
                name(&p.metadata) == c.claim_name && p.metadata.namespace.as_deref() == ns
            })?;
            let pv_name = pvc.spec.as_ref()?.volume_name.as_deref()?;
            r.world
                .pvs
                .iter()
                .find(|pv| name(&pv.metadata) == pv_name && csi(pv).is_some())
        })
        .collect()
}

/// Is this PV claimed from a namespace in the faker's scope?
fn ours(r: &Round, pv_name: &str) -> bool {
    let Some(pv) = r.world.pvs.iter().find(|pv| name(&pv.metadata) == pv_name) else {
        return false;
    };
    let claim_ns = pv
        .spec
        .as_ref()
        .and_then(|s| s.claim_ref.as_ref())
        .and_then(|c| c.namespace.as_deref());
    claim_ns.is_some_and(|ns| {
        r.world
            .pvcs
            .iter()
            .any(|c| c.metadata.namespace.as_deref() == Some(ns))
    })
}

fn attached(va: &VolumeAttachment) -> bool {
    va.status.as_ref().is_some_and(|s| s.attached)
}

/// Are all of this pod's CSI volumes attached to `node`? What the kubelet
/// waits for before it mounts and starts containers.
pub(super) fn volumes_attached(r: &Round, pod: &Pod, node: &str) -> bool {
    pod_volumes(r, pod).iter().all(|pv| {
        let (driver, handle) = csi(pv).expect("pod_volumes keeps CSI volumes");
        let want = attachment_name(handle, driver, node);
        r.world
            .attachments
            .iter()
            .any(|va| name(&va.metadata) == want && attached(va) && !is_terminating(&va.metadata))
    })
}

/// One round of the attach/detach controller and the external-attacher.
pub(super) fn reconcile(r: &Round, mem: &mut Memory) -> Vec<Write> {
    let mut out = Vec::new();
    if r.pauses.all {
        return out;
    }
    let t = &r.rules.timings;
    // Desired state: (PV name, node) → the pods that want it there.
    let mut wanted: BTreeMap<(String, String), Vec<&Pod>> = BTreeMap::new();
    for pod in &r.world.pods {
        let Some(node) = pod.spec.as_ref().and_then(|s| s.node_name.as_deref()) else {
            continue;
        };
        // A paused pod still holds its volumes: pausing freezes, it never detaches.
        if is_finished(pod) {
            continue;
        }
        for pv in pod_volumes(r, pod) {
            wanted
                .entry((name(&pv.metadata).to_owned(), node.to_owned()))
                .or_default()
                .push(pod);
        }
    }
    let pv_of = |va: &VolumeAttachment| va.spec.source.persistent_volume_name.clone();

    // Detach: attachments nobody wants any more, and finish detaches in flight.
    for va in &r.world.attachments {
        let Some(pv_name) = pv_of(va) else { continue };
        if !ours(r, &pv_name) || r.paused(Kind::VolumeAttachment, &va.metadata) {
            continue; // another namespace's volume: its own controller's business
        }
        let key = (pv_name.clone(), va.spec.node_name.clone());
        let va_name = name(&va.metadata).to_owned();
        if is_terminating(&va.metadata) {
            let since = *mem.attachments.entry(va_name.clone()).or_insert(r.now);
            if r.elapsed(since, t.detach) {
                // ControllerUnpublish done: the external-attacher lets go.
                out.push(Write::Patch {
                    target: Target::of(Kind::VolumeAttachment, &va.metadata),
                    patch: json!({"metadata": {"finalizers": null}}),
                });
            }
        } else if !wanted.contains_key(&key) {
            mem.attachments.remove(&va_name);
            out.push(Write::Delete {
                target: Target::of(Kind::VolumeAttachment, &va.metadata),
                grace_seconds: None,
            });
        }
    }

    // Attach: wanted volumes, unless a ReadWriteOnce volume is still elsewhere.
    for ((pv_name, node), pods) in &wanted {
        let pv = r
            .world
            .pvs
            .iter()
            .find(|pv| name(&pv.metadata) == *pv_name)
            .expect("wanted holds existing PVs");
        let (driver, handle) = csi(pv).expect("wanted holds CSI volumes");
        let va_name = attachment_name(handle, driver, node);
        let here = r
            .world
            .attachments
            .iter()
            .find(|va| name(&va.metadata) == va_name);
        match here {
            Some(va) if is_terminating(&va.metadata) => {} // detaching; attach after
            Some(va) if attached(va) => {
                for pod in pods {
                    let uid = pod.metadata.uid.clone().unwrap_or_default();
                    say_once(
                        mem,
                        format!("attached/{uid}/{pv_name}"),
                        controller_event(
                            pod,
                            "Normal",
                            "SuccessfulAttachVolume",
                            format!("AttachVolume.Attach succeeded for volume \"{pv_name}\" "),
                        ),
                        &mut out,
                    );
                }
            }
            Some(va) => {
                let since = *mem.attachments.entry(va_name.clone()).or_insert(r.now);
                if r.elapsed(since, t.attach) {
                    // ControllerPublish done.
                    mem.attachments.remove(&va_name);
                    out.push(Write::Patch {
                        target: Target::of(Kind::VolumeAttachment, &va.metadata),
                        patch: json!({"metadata": {"finalizers": [format!("external-attacher/{}", driver.replace('/', "-"))]}}),
                    });
                    out.push(Write::PatchStatus {
                        target: Target::of(Kind::VolumeAttachment, &va.metadata),
                        patch: json!({"status": {"attached": true}}),
                    });
                }
            }
            None => {
                let elsewhere = r.world.attachments.iter().find(|va| {
                    pv_of(va).as_deref() == Some(pv_name.as_str()) && va.spec.node_name != *node
                });
                if let (Some(other), true) = (elsewhere, read_write_once(pv)) {
                    for pod in pods {
                        let uid = pod.metadata.uid.clone().unwrap_or_default();
                        say_once(
                            mem,
                            format!("multiattach/{uid}/{pv_name}"),
                            controller_event(
                                pod,
                                "Warning",
                                "FailedAttachVolume",
                                format!(
                                    "Multi-Attach error for volume \"{pv_name}\" Volume is already exclusively attached to one node ({}) and can't be attached to another",
                                    other.spec.node_name
                                ),
                            ),
                            &mut out,
                        );
                    }
                    continue;
                }
                out.push(Write::Create {
                    kind: Kind::VolumeAttachment,
                    object: json!({
                        "apiVersion": "storage.k8s.io/v1",
                        "kind": "VolumeAttachment",
                        "metadata": {"name": va_name},
                        "spec": {
                            "attacher": driver,
                            "nodeName": node,
                            "source": {"persistentVolumeName": pv_name},
                        },
                    }),
                });
            }
        }
    }
    let live: std::collections::HashSet<&str> = r
        .world
        .attachments
        .iter()
        .map(|va| name(&va.metadata))
        .collect();
    mem.attachments.retain(|n, _| live.contains(n.as_str()));
    out
}

/// An event the attach/detach controller records on a pod (it has no host).
fn controller_event(pod: &Pod, type_: &'static str, reason: &str, message: String) -> EventSpec {
    EventSpec::new(
        type_,
        "attachdetach-controller",
        ObjRef::to(pod),
        reason,
        message,
    )
}
