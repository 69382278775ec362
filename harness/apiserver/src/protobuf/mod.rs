//! Kubernetes' protobuf encoding of request bodies, for every built-in kind
//! (kubectl's and client-go's typed clients write protobuf).
//!
//! Why not k8s-pb's generated types: the server keeps objects as JSON, and
//! k8s-pb's prost structs have no JSON form. What turning protobuf into JSON
//! needs is, per field, its number, JSON name and type, and whether Go's
//! JSON keeps a zero value; the table in `go_types` holds exactly that.

mod decode;
mod wire;

use crate::go_types::Schema;
use serde_json::{Value, json};
use wire::{Wire, fields};

/// `k8s\0`, then a `runtime.Unknown` envelope.
const MAGIC: &[u8] = b"k8s\0";

/// Why a protobuf body could not be read; each is a 400 as kube-apiserver
/// answers it (`transformDecodeError` in apiserver's
/// `pkg/endpoints/handlers/rest.go`).
#[derive(Debug, thiserror::Error)]
pub(crate) enum DecodeError {
    /// apimachinery's `runtime/serializer/protobuf/protobuf.go` wording.
    #[error(
        "provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]"
    )]
    NoPrefix,
    #[error(
        "{kind} in version {version:?} cannot be handled as a {kind}: no kind {kind:?} is registered for version {api_version:?}"
    )]
    UnknownKind {
        kind: String,
        version: String,
        api_version: String,
    },
    #[error("{kind} in version {version:?} cannot be handled as a {kind}: {reason}")]
    Malformed {
        kind: String,
        version: String,
        reason: String,
    },
}

/// Decodes a protobuf request body into the JSON object it stands for.
pub(crate) fn decode(body: &[u8]) -> Result<Value, DecodeError> {
    decode_at(body, 0)
}

/// An envelope may sit inside a RawExtension, `depth` messages down.
fn decode_at(body: &[u8], depth: usize) -> Result<Value, DecodeError> {
    let envelope = body.strip_prefix(MAGIC).ok_or(DecodeError::NoPrefix)?;
    let (mut api_version, mut kind, mut raw) = (String::new(), String::new(), &[][..]);
    let malformed = |api_version: &str, kind: &str, reason: String| DecodeError::Malformed {
        kind: kind.to_string(),
        version: version_of(api_version).to_string(),
        reason,
    };
    for (n, f) in fields(envelope).map_err(|e| malformed("", "", e))? {
        match (n, f) {
            (1, Wire::Bytes(tm)) => {
                for (m, g) in fields(tm).map_err(|e| malformed("", "", e))? {
                    match (m, g) {
                        (1, Wire::Bytes(x)) => api_version = String::from_utf8_lossy(x).into(),
                        (2, Wire::Bytes(x)) => kind = String::from_utf8_lossy(x).into(),
                        _ => {}
                    }
                }
            }
            (2, Wire::Bytes(x)) => raw = x,
            _ => {}
        }
    }
    let schema = Schema::get();
    let message = schema
        .kind(&api_version, &kind)
        .ok_or_else(|| DecodeError::UnknownKind {
            kind: kind.clone(),
            version: version_of(&api_version).to_string(),
            api_version: api_version.clone(),
        })?;
    let mut obj = decode::message(schema, &message, raw, depth)
        .map_err(|e| malformed(&api_version, &kind, e))?;
    if !obj.is_object() {
        obj = json!({});
    }
    obj["apiVersion"] = json!(api_version);
    obj["kind"] = json!(kind);
    Ok(obj)
}

fn version_of(api_version: &str) -> &str {
    api_version.rsplit('/').next().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn varint(mut v: u64) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(b);
                return out;
            }
            out.push(b | 0x80);
        }
    }

    fn field(num: u64, payload: &[u8]) -> Vec<u8> {
        [
            varint((num << 3) | 2),
            varint(payload.len() as u64),
            payload.to_vec(),
        ]
        .concat()
    }

    fn number(num: u64, v: u64) -> Vec<u8> {
        [varint(num << 3), varint(v)].concat()
    }

    fn map_entry(num: u64, k: &str, v: &[u8]) -> Vec<u8> {
        field(num, &[field(1, k.as_bytes()), field(2, v)].concat())
    }

    fn envelope(api_version: &str, kind: &str, raw: &[u8]) -> Vec<u8> {
        let tm = [field(1, api_version.as_bytes()), field(2, kind.as_bytes())].concat();
        [MAGIC.to_vec(), field(1, &tm), field(2, raw)].concat()
    }

    #[test]
    fn decodes_a_configmap_like_kubectl_create_sends() {
        let meta = [field(1, b"settings"), map_entry(11, "app", b"web")].concat();
        let raw = [
            field(1, &meta),
            map_entry(2, "k", b"v"),
            map_entry(3, "bin", b"\x00\x01"),
        ]
        .concat();
        let obj = decode(&envelope("v1", "ConfigMap", &raw)).unwrap();
        assert_eq!(
            obj,
            json!({"metadata": {"name": "settings", "labels": {"app": "web"}},
                   "data": {"k": "v"}, "binaryData": {"bin": "AAE="},
                   "apiVersion": "v1", "kind": "ConfigMap"})
        );
    }

    /// What Go writes for a Deployment: every non-pointer field, zero or
    /// not, and pointers only when set. Field numbers from k8s.io/api
    /// apps/v1 and core/v1 generated.proto.
    #[test]
    fn decodes_a_deployment_as_go_would_write_its_json() {
        let meta = [field(1, b"web"), field(2, b""), field(8, b""), number(7, 0)].concat();
        let port = [number(3, 8080), field(4, b"")].concat();
        let container = [
            field(1, b"nginx"),
            field(2, b"nginx:1.27"),
            field(6, &port),
            field(8, b""),
            number(16, 0),
        ]
        .concat();
        let volume = [field(1, b"scratch"), field(2, &field(2, b""))].concat();
        let pod_spec = [field(1, &volume), field(2, &container)].concat();
        let template = [field(1, &map_entry(11, "app", b"web")), field(2, &pod_spec)].concat();
        let spec = [
            number(1, 0),
            field(2, &map_entry(1, "app", b"web")),
            field(3, &template),
            field(4, b""),
            number(5, 0),
            number(9, u64::MAX - 1), // -2, sign-extended
        ]
        .concat();
        let raw = [field(1, &meta), field(2, &spec), field(3, b"")].concat();
        let obj = decode(&envelope("apps/v1", "Deployment", &raw)).unwrap();
        assert_eq!(
            obj,
            json!({
                "metadata": {"name": "web", "creationTimestamp": null},
                "spec": {
                    "replicas": 0,
                    "selector": {"matchLabels": {"app": "web"}},
                    "template": {
                        "metadata": {"labels": {"app": "web"}},
                        "spec": {
                            "volumes": [{"name": "scratch", "emptyDir": {}}],
                            "containers": [{
                                "name": "nginx", "image": "nginx:1.27",
                                "ports": [{"containerPort": 8080}],
                                "resources": {}
                            }]
                        }
                    },
                    "strategy": {},
                    "progressDeadlineSeconds": -2
                },
                "status": {},
                "apiVersion": "apps/v1", "kind": "Deployment"
            })
        );
    }

    #[test]
    fn times_quantities_and_int_or_string_read_as_their_json() {
        // A Service port's targetPort (intstr type 1 = string) and a pod's
        // resource limits (Quantity is a string in field 1).
        let target = [number(1, 1), field(3, b"http")].concat();
        let svc_port = [number(3, 80), field(4, &target)].concat();
        let raw = [field(2, &field(1, &svc_port))].concat();
        let svc = decode(&envelope("v1", "Service", &raw)).unwrap();
        assert_eq!(
            svc["spec"]["ports"],
            json!([{"port": 80, "targetPort": "http"}])
        );

        let when = [number(1, 1_700_000_000), number(2, 123_456_789)].concat();
        let event = [
            field(1, &field(1, b"e")),
            field(2, &when), // eventTime, a MicroTime
        ]
        .concat();
        let obj = decode(&envelope("events.k8s.io/v1", "Event", &event)).unwrap();
        assert_eq!(obj["eventTime"], "2023-11-14T22:13:20.123456Z");

        let quota_spec = map_entry(1, "pods", &field(1, b"10"));
        let quota = decode(&envelope("v1", "ResourceQuota", &field(2, &quota_spec))).unwrap();
        assert_eq!(quota["spec"], json!({"hard": {"pods": "10"}}));
    }

    #[test]
    fn bad_bodies_are_named_as_kube_apiserver_names_them() {
        assert_eq!(
            decode(b"{}").unwrap_err().to_string(),
            "provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]"
        );
        assert_eq!(
            decode(&envelope("apps/v1", "Widget", &[]))
                .unwrap_err()
                .to_string(),
            "Widget in version \"v1\" cannot be handled as a Widget: no kind \"Widget\" is registered for version \"apps/v1\""
        );
        let truncated = [MAGIC, &[0x0a, 0x7f]].concat();
        assert!(matches!(
            decode(&truncated),
            Err(DecodeError::Malformed { .. })
        ));
        let bad_meta = field(1, &[0x0a, 0x05, b'a']);
        let err = decode(&envelope("v1", "Pod", &bad_meta))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "Pod in version \"v1\" cannot be handled as a Pod: k8s.io.api.core.v1.Pod field 1: unexpected EOF"
        );
    }
}
