//! PersistentVolumeClaim updates as kube-apiserver 1.33 takes them:
//! `ValidatePersistentVolumeClaimUpdate` (kubernetes
//! `pkg/apis/core/validation/validation.go`: only a bound claim may change
//! its request; with RecoverVolumeExpansionFailure, on by default, it may
//! shrink back to just above `status.capacity`), and the default-on
//! admission plugins DefaultStorageClass
//! (`plugin/pkg/admission/storage/storageclass/setdefault/admission.go`,
//! `pkg/volume/util/storageclass.go` `GetDefaultClass`) and
//! PersistentVolumeClaimResize
//! (`plugin/pkg/admission/storage/persistentvolume/resize/admission.go`).

use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use k8s_openapi::api::storage::v1::StorageClass;
use kube::Client;
use kube::api::{Api, Patch, PatchParams};
use serde_json::{Value, json};

use crate::common::{create, server, status};

async fn class(client: &Client, name: &str, expands: bool, default: bool) {
    let classes: Api<StorageClass> = Api::all(client.clone());
    let annotations = if default {
        json!({"storageclass.kubernetes.io/is-default-class": "true"})
    } else {
        json!({})
    };
    create(
        &classes,
        json!({"metadata": {"name": name, "annotations": annotations},
               "provisioner": "csi.harness.dev", "allowVolumeExpansion": expands}),
    )
    .await;
}

async fn claim(client: &Client, name: &str, spec: Value) -> PersistentVolumeClaim {
    let claims: Api<PersistentVolumeClaim> = Api::default_namespaced(client.clone());
    let mut spec = spec;
    spec["accessModes"] = json!(["ReadWriteOnce"]);
    spec["resources"] = json!({"requests": {"storage": "1Gi"}});
    serde_json::from_value(create(&claims, json!({"metadata": {"name": name}, "spec": spec})).await)
        .unwrap()
}

/// What the PV controller writes once it binds the claim.
async fn bind(client: &Client, name: &str, capacity: &str) {
    let claims: Api<PersistentVolumeClaim> = Api::default_namespaced(client.clone());
    let st = json!({"status": {"phase": "Bound", "capacity": {"storage": capacity}}});
    claims
        .patch_status(name, &PatchParams::default(), &Patch::Merge(&st))
        .await
        .unwrap();
}

async fn request(
    client: &Client,
    name: &str,
    storage: &str,
) -> Result<PersistentVolumeClaim, kube::Error> {
    let claims: Api<PersistentVolumeClaim> = Api::default_namespaced(client.clone());
    let p = json!({"spec": {"resources": {"requests": {"storage": storage}}}});
    claims
        .patch(name, &PatchParams::default(), &Patch::Merge(&p))
        .await
}

#[tokio::test(start_paused = true)]
async fn a_claim_without_a_class_gets_the_newest_default() {
    let (_s, client) = server().await;
    let none = claim(&client, "before", json!({})).await;
    assert_eq!(
        none.spec.unwrap().storage_class_name,
        None,
        "no default yet"
    );
    class(&client, "b-default", true, true).await;
    class(&client, "a-default", true, true).await;
    class(&client, "plain", true, false).await;
    // Same creation second: the first by name.
    let given = claim(&client, "after", json!({})).await;
    assert_eq!(
        given.spec.unwrap().storage_class_name.as_deref(),
        Some("a-default")
    );
    let chosen = claim(&client, "chosen", json!({"storageClassName": "plain"})).await;
    assert_eq!(
        chosen.spec.unwrap().storage_class_name.as_deref(),
        Some("plain")
    );
    let empty = claim(&client, "static", json!({"storageClassName": ""})).await;
    assert_eq!(
        empty.spec.unwrap().storage_class_name.as_deref(),
        Some(""),
        "an empty class asks for no class"
    );
}

#[tokio::test(start_paused = true)]
async fn a_bound_claim_grows_only_where_its_class_allows() {
    let (_s, client) = server().await;
    class(&client, "expandable", true, true).await;
    class(&client, "fixed", false, false).await;
    claim(&client, "data", json!({})).await;

    let st = status(request(&client, "data", "2Gi").await.unwrap_err());
    assert_eq!((st.code, st.reason.as_str()), (422, "Invalid"));
    assert_eq!(
        st.message,
        "PersistentVolumeClaim \"data\" is invalid: spec: Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims"
    );

    bind(&client, "data", "1Gi").await;
    let grown = request(&client, "data", "2Gi")
        .await
        .expect("bound and expandable");
    assert_eq!(
        grown.spec.unwrap().resources.unwrap().requests.unwrap()["storage"].0,
        "2Gi"
    );
    let st = status(request(&client, "data", "1Gi").await.unwrap_err());
    assert_eq!(st.code, 422);
    assert_eq!(
        st.message,
        "PersistentVolumeClaim \"data\" is invalid: spec.resources.requests.storage: Forbidden: field can not be less than status.capacity"
    );
    request(&client, "data", "1536Mi")
        .await
        .expect("back down, still above what the volume has");

    claim(&client, "pinned", json!({"storageClassName": "fixed"})).await;
    bind(&client, "pinned", "1Gi").await;
    let st = status(request(&client, "pinned", "2Gi").await.unwrap_err());
    assert_eq!((st.code, st.reason.as_str()), (403, "Forbidden"));
    assert_eq!(
        st.message,
        "persistentvolumeclaims \"pinned\" is forbidden: only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must support resize"
    );
    let details = st.details.unwrap();
    assert_eq!(
        (details.name.as_str(), details.kind.as_str()),
        ("pinned", "persistentvolumeclaims")
    );

    claim(&client, "classless", json!({"storageClassName": ""})).await;
    bind(&client, "classless", "1Gi").await;
    let st = status(request(&client, "classless", "2Gi").await.unwrap_err());
    assert_eq!(st.code, 403, "no class, no resize: {}", st.message);

    let claims: Api<PersistentVolumeClaim> = Api::default_namespaced(client.clone());
    let p = json!({"spec": {"accessModes": ["ReadWriteMany"]}});
    let st = status(
        claims
            .patch("data", &PatchParams::default(), &Patch::Merge(&p))
            .await
            .unwrap_err(),
    );
    assert!(st.message.contains("spec is immutable"), "{}", st.message);
}

/// A claim made before any default class existed may be given one later
/// (`validateStorageClassUpgradeFromNil`, the retroactive default class),
/// but a class once set stays.
#[tokio::test(start_paused = true)]
async fn a_classless_claim_may_get_a_class_once() {
    let (_s, client) = server().await;
    claim(&client, "early", json!({})).await;
    class(&client, "standard", true, true).await;
    let claims: Api<PersistentVolumeClaim> = Api::default_namespaced(client.clone());
    let given = json!({"spec": {"storageClassName": "standard"}});
    claims
        .patch("early", &PatchParams::default(), &Patch::Merge(&given))
        .await
        .expect("nil to a class is allowed");
    let other = json!({"spec": {"storageClassName": "other"}});
    let st = status(
        claims
            .patch("early", &PatchParams::default(), &Patch::Merge(&other))
            .await
            .unwrap_err(),
    );
    assert!(st.message.contains("spec is immutable"), "{}", st.message);
}
