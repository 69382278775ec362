//! Dynamic provisioning, binding and online expansion of PVCs.
//!
//! Upstream references: the external-provisioner (`ProvisioningSucceeded`,
//! `ProvisioningFailed` "failed to provision volume with StorageClass …"),
//! the PV controller `pkg/controller/volume/persistentvolume/pv_controller.go`
//! (PV `pvc-<claim uid>`, `spec.volumeName`, `pv.kubernetes.io/bind-completed`,
//! both phases `Bound`), the external-resizer and kubelet for online expansion
//! (`Resizing`, `FileSystemResizeRequired`, `FileSystemResizeSuccessful`
//! events; `Resizing` then `FileSystemResizePending` conditions;
//! `status.allocatedResources`; `status.capacity` follows last).
//!
//! Disk usage is not here: a test's figures are served where real operators
//! read them, the kubelet's summary API (`summary.rs`).

use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use serde_json::{Value, json};

use super::kubelet::set_condition;
use super::model::{
    EventSpec, Kind, Memory, ObjRef, PvcMemory, Round, Target, Write, is_terminating, name,
    say_once, status_write, to_value,
};

const PROVISIONER: &str = "faker.csi.kube-harness.io";
/// The external-resizer sidecar names itself after the driver it serves.
const RESIZER: &str = "external-resizer faker.csi.kube-harness.io";

/// Parse a Kubernetes quantity (`10Gi`, `500M`, `1024`) to bytes.
pub(super) fn quantity_bytes(q: &Quantity) -> Option<u64> {
    let s = q.0.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, suffix) = s.split_at(split);
    let n: f64 = num.parse().ok()?;
    let mult: f64 = match suffix {
        "" => 1.0,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        _ => return None,
    };
    Some((n * mult).round() as u64)
}

fn request(pvc: &PersistentVolumeClaim) -> Option<Quantity> {
    pvc.spec
        .as_ref()?
        .resources
        .as_ref()?
        .requests
        .as_ref()?
        .get("storage")
        .cloned()
}

fn capacity(pvc: &PersistentVolumeClaim) -> Option<Quantity> {
    pvc.status
        .as_ref()?
        .capacity
        .as_ref()?
        .get("storage")
        .cloned()
}

/// One round of provisioning, binding, expansion and usage publishing.
pub(super) fn reconcile(r: &Round, mem: &mut Memory) -> Vec<Write> {
    let mut out = Vec::new();
    let t = &r.rules.timings;
    for pvc in &r.world.pvcs {
        if r.paused(Kind::PersistentVolumeClaim, &pvc.metadata) || is_terminating(&pvc.metadata) {
            continue;
        }
        let uid = pvc.metadata.uid.clone().unwrap_or_default();
        let pvc_name = name(&pvc.metadata).to_owned();
        let ns = pvc.metadata.namespace.clone().unwrap_or_default();
        let class = pvc.spec.as_ref().and_then(|s| s.storage_class_name.clone());
        let phase = pvc.status.as_ref().and_then(|s| s.phase.clone());
        let mut m = mem.pvcs.get(&uid).cloned().unwrap_or_default();
        let old = pvc.status.as_ref().map(to_value);

        if phase.as_deref() != Some("Bound") {
            let pending_at = *m.pending_at.get_or_insert(r.now);
            if r.rules.never_binds(&pvc_name, class.as_deref()) {
                let class_name = class.clone().unwrap_or_else(|| "standard".into());
                let mut status = old.clone().unwrap_or_else(|| json!({}));
                status["phase"] = json!("Pending");
                out.extend(status_write(
                    Target::of(Kind::PersistentVolumeClaim, &pvc.metadata),
                    old,
                    status,
                ));
                say_once(
                    mem,
                    format!("provisioningfailed/{uid}"),
                    EventSpec::new(
                        "Warning",
                        PROVISIONER,
                        ObjRef::to(pvc),
                        "ProvisioningFailed",
                        format!(
                            "failed to provision volume with StorageClass \"{class_name}\": rpc error: code = ResourceExhausted desc = insufficient capacity"
                        ),
                    ),
                    &mut out,
                );
            } else if r.elapsed(pending_at, t.bind) {
                bind(r, mem, pvc, &uid, &mut out);
            } else {
                say_once(
                    mem,
                    format!("provisioning/{uid}"),
                    EventSpec::new(
                        "Normal",
                        PROVISIONER,
                        ObjRef::to(pvc),
                        "Provisioning",
                        format!(
                            "External provisioner is provisioning volume for claim \"{ns}/{pvc_name}\""
                        ),
                    ),
                    &mut out,
                );
            }
            mem.pvcs.insert(uid, m);
            continue;
        }

        // Bound: expansion, then usage annotations.
        let req = request(pvc);
        let cap = capacity(pvc);
        let want = req.as_ref().and_then(quantity_bytes).unwrap_or(0);
        let have = cap.as_ref().and_then(quantity_bytes).unwrap_or(0);
        if want > have {
            let resize_at = *m.resize_at.get_or_insert(r.now);
            let pv_name = pvc
                .spec
                .as_ref()
                .and_then(|s| s.volume_name.clone())
                .unwrap_or_default();
            let req = req.expect("want > 0 implies a request");
            // kube-controller-manager's expand controller hands a CSI
            // volume to the external resizer
            // (`pkg/controller/volume/expand/expand_controller.go`).
            say_once(
                mem,
                format!("externalexpanding/{uid}/{}", req.0),
                EventSpec::new(
                    "Normal",
                    "volume_expand",
                    ObjRef::to(pvc),
                    "ExternalExpanding",
                    "waiting for an external controller to expand this PVC",
                ),
                &mut out,
            );
            let mut status = old.clone().unwrap_or_else(|| json!({}));
            status["allocatedResources"] = json!({"storage": req});
            let ts = r.ts();
            if let Some(error) = resize_error(r, &m, &pvc_name, class.as_deref()) {
                // The resizer's final error: recorded on the claim and in a
                // Warning; it retries, so the timing starts over when the
                // cause is gone (`external-resizer` `expandAndRecover`).
                let message = format!(
                    "resize volume \"{pv_name}\" by resizer \"{PROVISIONER}\" failed: {error}"
                );
                status["allocatedResourceStatuses"] =
                    json!({"storage": "ControllerResizeInProgress"});
                strip_condition(&mut status, "Resizing");
                set_condition(
                    &mut status,
                    old.as_ref(),
                    "ControllerResizeError",
                    "True",
                    Some(("", &message)),
                    &ts,
                );
                say_once(
                    mem,
                    format!("resizefailed/{uid}/{}", req.0),
                    EventSpec::new(
                        "Warning",
                        RESIZER,
                        ObjRef::to(pvc),
                        "VolumeResizeFailed",
                        message,
                    ),
                    &mut out,
                );
                m.resize_at = None;
                out.extend(status_write(
                    Target::of(Kind::PersistentVolumeClaim, &pvc.metadata),
                    old,
                    status,
                ));
                mem.pvcs.insert(uid, m);
                continue;
            }
            let expand = r
                .rules
                .resize_time(&pvc_name, class.as_deref())
                .unwrap_or(t.expand);
            // A raw block volume has no filesystem: the resizer finishes it
            // (`VolumeResizeSuccessful`) and the kubelet has nothing to do.
            let block = pvc.spec.as_ref().and_then(|s| s.volume_mode.as_deref()) == Some("Block");
            if r.elapsed(resize_at, expand) {
                status["capacity"] = json!({"storage": req});
                status.as_object_mut().expect("object").remove("conditions");
                status
                    .as_object_mut()
                    .expect("object")
                    .remove("allocatedResourceStatuses");
                if let Some(pv) = r.world.pvs.iter().find(|p| name(&p.metadata) == pv_name) {
                    out.push(Write::Patch {
                        target: Target::of(Kind::PersistentVolume, &pv.metadata),
                        patch: json!({"spec": {"capacity": {"storage": req}}}),
                    });
                }
                let done = if block {
                    EventSpec::new(
                        "Normal",
                        RESIZER,
                        ObjRef::to(pvc),
                        "VolumeResizeSuccessful",
                        "Resize volume succeeded",
                    )
                } else {
                    EventSpec::new(
                        "Normal",
                        "kubelet",
                        ObjRef::to(pvc),
                        "FileSystemResizeSuccessful",
                        format!("MountVolume.NodeExpandVolume succeeded for volume \"{pv_name}\""),
                    )
                };
                say_once(mem, format!("resized/{uid}/{}", req.0), done, &mut out);
                m.resize_at = None;
                m.resized_at = Some(r.now);
            } else if !block && r.elapsed(resize_at, expand / 2) {
                set_condition(
                    &mut status,
                    old.as_ref(),
                    "FileSystemResizePending",
                    "True",
                    Some((
                        "",
                        "Waiting for user to (re-)start a pod to finish file system resize of volume on node.",
                    )),
                    &ts,
                );
                strip_condition(&mut status, "Resizing");
                status["allocatedResourceStatuses"] = json!({"storage": "NodeResizePending"});
                say_once(
                    mem,
                    format!("fsresize/{uid}/{}", req.0),
                    EventSpec::new(
                        "Normal",
                        RESIZER,
                        ObjRef::to(pvc),
                        "FileSystemResizeRequired",
                        "Require file system resize of volume on node",
                    ),
                    &mut out,
                );
            } else {
                set_condition(&mut status, old.as_ref(), "Resizing", "True", None, &ts);
                status["allocatedResourceStatuses"] =
                    json!({"storage": "ControllerResizeInProgress"});
                say_once(
                    mem,
                    format!("resizing/{uid}/{}", req.0),
                    EventSpec::new(
                        "Normal",
                        RESIZER,
                        ObjRef::to(pvc),
                        "Resizing",
                        format!("External resizer is resizing volume {pv_name}"),
                    ),
                    &mut out,
                );
            }
            out.extend(status_write(
                Target::of(Kind::PersistentVolumeClaim, &pvc.metadata),
                old,
                status,
            ));
        } else {
            m.resize_at = None;
        }
        mem.pvcs.insert(uid, m);
    }
    let live: std::collections::HashSet<&str> = r
        .world
        .pvcs
        .iter()
        .filter_map(|p| p.metadata.uid.as_deref())
        .collect();
    mem.pvcs.retain(|uid, _| live.contains(uid.as_str()));
    out
}

/// Why the resizer's expansion of this claim fails now, if it does: a
/// fault rule, or a change within the per-volume cooldown after the last
/// one (one major cloud allows one modification of a disk every 6 hours).
fn resize_error(r: &Round, m: &PvcMemory, claim: &str, class: Option<&str>) -> Option<String> {
    if r.rules.resize_fails(claim, class) {
        return Some("rpc error: code = Internal desc = volume expansion failed (fault injected by the StatusFaker)".into());
    }
    let cooldown = r.rules.resize_cooldown?;
    let last = m.resized_at?;
    let left = cooldown.checked_sub(r.now.saturating_duration_since(last))?;
    (!left.is_zero()).then(|| {
        format!(
            "rpc error: code = ResourceExhausted desc = volume modification rate exceeded: one modification per volume every {}s; next allowed in {}s",
            cooldown.as_secs(),
            left.as_secs()
        )
    })
}

fn strip_condition(status: &mut Value, type_: &str) {
    if let Some(arr) = status.get_mut("conditions").and_then(Value::as_array_mut) {
        arr.retain(|c| c["type"] != type_);
    }
}

fn bind(r: &Round, mem: &mut Memory, pvc: &PersistentVolumeClaim, uid: &str, out: &mut Vec<Write>) {
    let spec = pvc.spec.clone().unwrap_or_default();
    let pv_name = spec
        .volume_name
        .clone()
        .unwrap_or_else(|| format!("pvc-{uid}"));
    let req = request(pvc).unwrap_or_else(|| Quantity("1Gi".into()));
    let modes = spec
        .access_modes
        .clone()
        .unwrap_or_else(|| vec!["ReadWriteOnce".into()]);
    if !r.world.pvs.iter().any(|p| name(&p.metadata) == pv_name) {
        out.push(Write::Create {
            kind: Kind::PersistentVolume,
            object: json!({
                "apiVersion": "v1",
                "kind": "PersistentVolume",
                "metadata": {
                    "name": pv_name,
                    "annotations": {"pv.kubernetes.io/provisioned-by": PROVISIONER},
                },
                "spec": {
                    "capacity": {"storage": req},
                    "accessModes": modes,
                    "persistentVolumeReclaimPolicy": "Delete",
                    "storageClassName": spec.storage_class_name,
                    "volumeMode": spec.volume_mode.clone().unwrap_or_else(|| "Filesystem".into()),
                    "claimRef": {
                        "apiVersion": "v1",
                        "kind": "PersistentVolumeClaim",
                        "namespace": pvc.metadata.namespace,
                        "name": pvc.metadata.name,
                        "uid": uid,
                    },
                    "csi": {"driver": PROVISIONER, "volumeHandle": pv_name},
                },
            }),
        });
        say_once(
            mem,
            format!("provisioned/{uid}"),
            EventSpec::new(
                "Normal",
                PROVISIONER,
                ObjRef::to(pvc),
                "ProvisioningSucceeded",
                format!("Successfully provisioned volume {pv_name}"),
            ),
            out,
        );
    } else if let Some(pv) = r.world.pvs.iter().find(|p| name(&p.metadata) == pv_name) {
        let old = pv.status.as_ref().map(to_value);
        out.extend(status_write(
            Target::of(Kind::PersistentVolume, &pv.metadata),
            old,
            json!({"phase": "Bound"}),
        ));
    }
    if spec.volume_name.is_none() {
        out.push(Write::Patch {
            target: Target::of(Kind::PersistentVolumeClaim, &pvc.metadata),
            patch: json!({
                "metadata": {"annotations": {
                    "pv.kubernetes.io/bind-completed": "yes",
                    "pv.kubernetes.io/bound-by-controller": "yes",
                    "volume.kubernetes.io/storage-provisioner": PROVISIONER,
                }},
                "spec": {"volumeName": pv_name},
            }),
        });
    }
    let old = pvc.status.as_ref().map(to_value);
    out.extend(status_write(
        Target::of(Kind::PersistentVolumeClaim, &pvc.metadata),
        old,
        json!({"phase": "Bound", "accessModes": modes, "capacity": {"storage": req}}),
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_parse_binary_and_decimal() {
        assert_eq!(quantity_bytes(&Quantity("10Gi".into())), Some(10 << 30));
        assert_eq!(quantity_bytes(&Quantity("500M".into())), Some(500_000_000));
        assert_eq!(quantity_bytes(&Quantity("1024".into())), Some(1024));
        assert_eq!(quantity_bytes(&Quantity("1.5Gi".into())), Some(3 << 29));
        assert_eq!(quantity_bytes(&Quantity("10Qx".into())), None);
    }
}
