//! The OpenAPI documents with their schemas: `/openapi/v3/<group version>`
//! carries a component schema per kind tagged with
//! `x-kubernetes-group-version-kind` (what `kubectl explain`'s templates,
//! kubectl `pkg/explain/v2/templates/plaintext.tmpl`, look a kind up by),
//! and `/openapi/v2` the same definitions for kubectl's client-side
//! validation, as JSON or as gnostic protobuf (kube-openapi
//! `pkg/handler/handler.go`). Custom kinds are named and shaped as
//! apiextensions-apiserver's `pkg/controller/openapi/builder` does.

use http_body_util::BodyExt;
use kube::Client;
use serde_json::{Map, Value};

use crate::common::{get, install_database_crd, server};

/// Every `$ref` in `doc` names a schema under `prefix` the document holds:
/// a dangling reference leaves `kubectl explain` with an empty field.
fn assert_refs_resolve(doc: &Value, schemas: &Map<String, Value>, prefix: &str) {
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref") {
                    out.push(r.clone());
                }
                m.values().for_each(|v| walk(v, out));
            }
            Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut refs = Vec::new();
    walk(doc, &mut refs);
    assert!(!refs.is_empty(), "no references at all");
    for r in refs {
        let name = r
            .strip_prefix(prefix)
            .unwrap_or_else(|| panic!("{r} is not under {prefix}"));
        assert!(schemas.contains_key(name), "{r} names no schema");
    }
}

fn gvk_of(schema: &Value) -> &Value {
    &schema["x-kubernetes-group-version-kind"]
}

#[tokio::test]
async fn v3_documents_carry_each_kinds_schema() {
    let (_s, client) = server().await;
    let (code, doc) = get(&client, "/openapi/v3/api/v1").await;
    assert_eq!(code, 200);
    let schemas = doc["components"]["schemas"].as_object().expect("schemas");
    let pod = &schemas["io.k8s.api.core.v1.Pod"];
    assert_eq!(
        gvk_of(pod),
        &serde_json::json!([{"group": "", "kind": "Pod", "version": "v1"}])
    );
    assert!(
        pod["description"]
            .as_str()
            .unwrap()
            .starts_with("Pod is a collection of containers")
    );
    // kube-openapi's v3 builder wraps a field's reference in allOf beside
    // the field's own description.
    assert_eq!(
        pod["properties"]["spec"]["allOf"][0]["$ref"],
        "#/components/schemas/io.k8s.api.core.v1.PodSpec"
    );
    assert!(pod["properties"]["spec"]["description"].is_string());
    // Upstream requires no metadata of a kind.
    assert!(pod.get("required").is_none(), "{pod}");
    assert_eq!(
        schemas["io.k8s.api.core.v1.Container"]["required"],
        serde_json::json!(["name"])
    );
    assert_refs_resolve(&doc, schemas, "#/components/schemas/");
    // Each served kind of the group version is there, and only those carry
    // the core group's kinds.
    for kind in ["Service", "ConfigMap", "Namespace", "PersistentVolumeClaim"] {
        assert_eq!(
            gvk_of(&schemas[&format!("io.k8s.api.core.v1.{kind}")])[0]["kind"],
            kind
        );
    }
    assert!(!schemas.contains_key("io.k8s.api.apps.v1.Deployment"));

    let (code, apps) = get(&client, "/openapi/v3/apis/apps/v1").await;
    assert_eq!(code, 200);
    let apps_schemas = apps["components"]["schemas"].as_object().unwrap();
    assert_eq!(
        gvk_of(&apps_schemas["io.k8s.api.apps.v1.Deployment"]),
        &serde_json::json!([{"group": "apps", "kind": "Deployment", "version": "v1"}])
    );
    assert_refs_resolve(&apps, apps_schemas, "#/components/schemas/");
}

#[tokio::test]
async fn a_custom_kind_is_published_with_object_meta() {
    let (_s, client) = server().await;
    install_database_crd(&client).await;
    let (code, doc) = get(&client, "/openapi/v3/apis/harness.dev/v1").await;
    assert_eq!(code, 200);
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let db = &schemas["dev.harness.v1.Database"];
    assert_eq!(
        gvk_of(db),
        &serde_json::json!([{"group": "harness.dev", "kind": "Database", "version": "v1"}])
    );
    assert_eq!(
        db["properties"]["spec"]["properties"]["replicas"]["type"],
        "integer"
    );
    assert_eq!(
        db["properties"]["metadata"]["allOf"][0]["$ref"],
        "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    );
    assert_eq!(db["properties"]["kind"]["type"], "string");
    assert_refs_resolve(&doc, schemas, "#/components/schemas/");

    // v2 carries it too, with a v2 reference.
    let (code, v2) = get(&client, "/openapi/v2").await;
    assert_eq!(code, 200);
    let defs = v2["definitions"].as_object().unwrap();
    assert_eq!(
        defs["dev.harness.v1.Database"]["properties"]["metadata"]["$ref"],
        "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    );
}

async fn v2_with_accept(client: &Client, accept: &str) -> (u16, String, Vec<u8>) {
    let req = http::Request::get("/openapi/v2")
        .header("accept", accept)
        .body(kube::client::Body::empty())
        .unwrap();
    let resp = client.send(req).await.expect("transport works");
    let code = resp.status().as_u16();
    let ct = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = resp
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    (code, ct, body)
}

#[tokio::test]
async fn v2_is_served_as_json_or_protobuf_as_asked() {
    let (_s, client) = server().await;
    let (code, ct, body) = v2_with_accept(&client, "application/json").await;
    assert_eq!((code, ct.as_str()), (200, "application/json"));
    let doc: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(doc["swagger"], "2.0");
    let defs = doc["definitions"].as_object().unwrap();
    assert_eq!(
        gvk_of(&defs["io.k8s.api.batch.v1.Job"]),
        &serde_json::json!([{"group": "batch", "kind": "Job", "version": "v1"}])
    );
    // v2 keeps a reference's sibling description.
    assert_eq!(
        defs["io.k8s.api.batch.v1.Job"]["properties"]["spec"]["$ref"],
        "#/definitions/io.k8s.api.batch.v1.JobSpec"
    );
    assert_refs_resolve(&doc, defs, "#/definitions/");

    // What kubectl asks for: gnostic's openapi_v2.Document, returned under
    // the non-deprecated type.
    let (code, ct, body) = v2_with_accept(
        &client,
        "application/com.github.proto-openapi.spec.v2@v1.0+protobuf",
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(
        ct,
        "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
    );
    // Field 1 (swagger) is "2.0"; the definitions name their kinds.
    assert_eq!(&body[..5], &[0x0a, 3, b'2', b'.', b'0']);
    let text = String::from_utf8_lossy(&body);
    assert!(text.contains("io.k8s.api.batch.v1.Job"));

    let (code, _, _) = v2_with_accept(&client, "text/html").await;
    assert_eq!(code, 406);
}

/// A built-in kind as k8s-openapi models it.
struct Builtin {
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    name: fn() -> std::borrow::Cow<'static, str>,
    add: fn(&mut schemars::SchemaGenerator) -> schemars::Schema,
}

macro_rules! builtins {
    ($($t:ty),* $(,)?) => {
        vec![$(Builtin {
            group: <$t as k8s_openapi::Resource>::GROUP,
            version: <$t as k8s_openapi::Resource>::VERSION,
            kind: <$t as k8s_openapi::Resource>::KIND,
            name: <$t as schemars::JsonSchema>::schema_name,
            add: schemars::SchemaGenerator::subschema_for::<$t>,
        }),*]
    };
}

/// The kinds the server serves built in (its own unit test holds
/// `builtin.json` to the registry).
fn builtin_kinds() -> Vec<Builtin> {
    use k8s_openapi::api::{
        admissionregistration::v1 as admission, apps::v1 as apps, authentication::v1 as authn,
        authorization::v1 as authz, autoscaling::v2 as autoscaling, batch::v1 as batch,
        certificates::v1 as certificates, coordination::v1 as coordination, core::v1 as core,
        discovery::v1 as discovery, events::v1 as events, networking::v1 as networking,
        node::v1 as node, policy::v1 as policy, rbac::v1 as rbac, scheduling::v1 as scheduling,
        storage::v1 as storage,
    };
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as apiextensions;
    use k8s_openapi::kube_aggregator::pkg::apis::apiregistration::v1 as apiregistration;
    builtins![
        core::Pod,
        core::Service,
        core::Endpoints,
        core::ConfigMap,
        core::Secret,
        core::Namespace,
        core::Node,
        core::PersistentVolume,
        core::PersistentVolumeClaim,
        core::ServiceAccount,
        core::Event,
        core::ReplicationController,
        core::LimitRange,
        core::ResourceQuota,
        core::PodTemplate,
        admission::ValidatingWebhookConfiguration,
        admission::MutatingWebhookConfiguration,
        admission::ValidatingAdmissionPolicy,
        admission::ValidatingAdmissionPolicyBinding,
        apiextensions::CustomResourceDefinition,
        apiregistration::APIService,
        apps::Deployment,
        apps::StatefulSet,
        apps::DaemonSet,
        apps::ReplicaSet,
        apps::ControllerRevision,
        authn::TokenReview,
        authn::SelfSubjectReview,
        authz::LocalSubjectAccessReview,
        authz::SelfSubjectAccessReview,
        authz::SelfSubjectRulesReview,
        authz::SubjectAccessReview,
        autoscaling::HorizontalPodAutoscaler,
        batch::Job,
        batch::CronJob,
        certificates::CertificateSigningRequest,
        coordination::Lease,
        discovery::EndpointSlice,
        events::Event,
        networking::Ingress,
        networking::IngressClass,
        networking::NetworkPolicy,
        node::RuntimeClass,
        policy::PodDisruptionBudget,
        rbac::Role,
        rbac::RoleBinding,
        rbac::ClusterRole,
        rbac::ClusterRoleBinding,
        scheduling::PriorityClass,
        storage::StorageClass,
        storage::VolumeAttachment,
        storage::CSIDriver,
        storage::CSINode,
        storage::CSIStorageCapacity,
    ]
}

/// `builtin.json` as k8s-openapi (v1_33, schemars) generates it: OpenAPI v2
/// definitions, each kind tagged with its group/version/kind and without
/// the `metadata` k8s-openapi requires (its Rust field is no `Option`;
/// upstream requires none), one definition per line.
fn generate_builtin_json() -> String {
    let mut settings = schemars::generate::SchemaSettings::draft07();
    settings.transforms.clear();
    settings.meta_schema = None;
    let mut generator = settings.into_generator();
    let kinds = builtin_kinds();
    let mut listed = Vec::new();
    for b in &kinds {
        (b.add)(&mut generator);
        listed.push(serde_json::json!({
            "group": b.group, "version": b.version, "kind": b.kind, "definition": (b.name)(),
        }));
    }
    let mut defs = generator.take_definitions(true);
    for b in &kinds {
        let def = defs[&*(b.name)()]
            .as_object_mut()
            .expect("an object schema");
        def.insert(
            "x-kubernetes-group-version-kind".into(),
            serde_json::json!([{"group": b.group, "kind": b.kind, "version": b.version}]),
        );
        if let Some(Value::Array(required)) = def.get_mut("required") {
            required.retain(|r| r != "metadata");
            if required.is_empty() {
                def.remove("required");
            }
        }
    }
    let mut out = String::from("{\"kinds\": [\n");
    let kinds: Vec<String> = listed.iter().map(Value::to_string).collect();
    out.push_str(&kinds.join(",\n"));
    out.push_str("\n],\n\"definitions\": {\n");
    let defs: Vec<String> = defs
        .iter()
        .map(|(k, v)| format!("{}: {v}", Value::String(k.clone())))
        .collect();
    out.push_str(&defs.join(",\n"));
    out.push_str("\n}}\n");
    out
}

/// The checked-in schemas are what k8s-openapi gives today. After a
/// k8s-openapi upgrade or a new kind, `KUBE_HARNESS_WRITE_OPENAPI=1 cargo
/// test -p kube-harness-apiserver --test api builtin_json` rewrites them.
#[test]
fn builtin_json_is_what_k8s_openapi_generates() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/openapi/builtin.json");
    let generated = generate_builtin_json();
    if std::env::var_os("KUBE_HARNESS_WRITE_OPENAPI").is_some() {
        std::fs::write(path, &generated).expect("writing builtin.json");
    }
    let checked_in = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "{path} differs from what k8s-openapi generates; rerun with KUBE_HARNESS_WRITE_OPENAPI=1"
    );
}
