//! certificates.k8s.io/v1 CertificateSigningRequests: what the registry's
//! three strategies keep of a write (main resource, `/status`,
//! `/approval`: pkg/registry/certificates/certificates/strategy.go) and
//! what `ValidateCertificateSigningRequest{Create,Update,StatusUpdate,
//! ApprovalUpdate}` refuse (pkg/apis/certificates/validation/validation.go),
//! both at v1.33. v1 has no defaults.
//!
//! A request and a certificate are checked as PEM (block types, headers);
//! their DER and the request's signature are not parsed, since Go's x509
//! error texts cannot be reproduced faithfully.

use base64::Engine;
use serde_json::{Value, json};

use crate::authz::User;
use crate::store::ops::Part;

const USAGES: &[&str] = &[
    "any",
    "cert sign",
    "client auth",
    "code signing",
    "content commitment",
    "crl sign",
    "data encipherment",
    "decipher only",
    "digital signature",
    "email protection",
    "encipher only",
    "ipsec end system",
    "ipsec tunnel",
    "ipsec user",
    "key agreement",
    "key encipherment",
    "microsoft sgc",
    "netscape sgc",
    "ocsp signing",
    "s/mime",
    "server auth",
    "signing",
    "timestamping",
];

const LEGACY_SIGNER: &str = "kubernetes.io/legacy-unknown";

/// `PrepareForCreate`: who asked is recorded from the request, never from
/// the body, and status starts empty (nothing can be created approved).
pub(crate) fn prepare_create(obj: &mut Value, user: &User) {
    if let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) {
        for f in ["username", "uid", "groups", "extra"] {
            spec.remove(f);
        }
        if !user.name.is_empty() {
            spec.insert("username".into(), user.name.clone().into());
        }
        if !user.uid.is_empty() {
            spec.insert("uid".into(), user.uid.clone().into());
        }
        if !user.groups.is_empty() {
            spec.insert("groups".into(), json!(user.groups));
        }
        if !user.extra.is_empty() {
            spec.insert("extra".into(), Value::Object(user.extra.clone()));
        }
    }
    if let Some(m) = obj.as_object_mut() {
        m.insert("status".into(), json!({}));
    }
}

fn conditions(csr: &Value) -> &[Value] {
    csr.pointer("/status/conditions")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

fn field<'a>(c: &'a Value, name: &str) -> &'a str {
    c.get(name).and_then(Value::as_str).unwrap_or_default()
}

fn of_type<'a>(csr: &'a Value, t: &str) -> Vec<&'a Value> {
    conditions(csr)
        .iter()
        .filter(|c| field(c, "type") == t)
        .collect()
}

fn set_conditions(csr: &mut Value, conditions: Vec<Value>) {
    let status = csr
        .as_object_mut()
        .expect("object")
        .entry("status")
        .or_insert_with(|| json!({}));
    if let Some(s) = status.as_object_mut() {
        if conditions.is_empty() {
            s.remove("conditions");
        } else {
            s.insert("conditions".into(), Value::Array(conditions));
        }
    }
}

/// `PrepareForUpdate` of each strategy. The main resource changes only
/// metadata; `/status` cannot touch the approval conditions in place (an
/// edit of one is put back; adding or removing one is left for validation
/// to refuse); `/approval` changes only the conditions.
pub(crate) fn prepare_update(old: &Value, new: &mut Value, part: Part, now: &str) {
    match part {
        Part::Main => {
            for f in ["spec", "status"] {
                match old.get(f) {
                    Some(v) => new[f] = v.clone(),
                    None => {
                        new.as_object_mut().expect("object").remove(f);
                    }
                }
            }
        }
        Part::Status => {
            let mut cs = conditions(new).to_vec();
            for t in ["Approved", "Denied"] {
                let before = of_type(old, t);
                let slots: Vec<usize> = (0..cs.len())
                    .filter(|i| field(&cs[*i], "type") == t)
                    .collect();
                if slots.len() == before.len() {
                    for (i, o) in slots.into_iter().zip(before) {
                        cs[i] = o.clone();
                    }
                }
            }
            set_conditions(new, cs);
            stamp_conditions(old, new, now);
        }
        Part::Approval => {
            stamp_conditions(old, new, now);
            let cs = conditions(new).to_vec();
            new["status"] = old.get("status").cloned().unwrap_or_else(|| json!({}));
            set_conditions(new, cs);
        }
        _ => {}
    }
}

/// `populateConditionTimestamps`: an update time of now when absent, and
/// a transition time carried over from the old condition of the same type
/// and status, else now.
fn stamp_conditions(old: &Value, new: &mut Value, now: &str) {
    let mut cs = conditions(new).to_vec();
    for c in &mut cs {
        let Some(m) = c.as_object_mut() else { continue };
        if m.get("lastUpdateTime").is_none_or(Value::is_null) {
            m.insert("lastUpdateTime".into(), now.into());
        }
        if m.get("lastTransitionTime").is_none_or(Value::is_null) {
            let (t, s) = (
                m.get("type").cloned().unwrap_or_default(),
                m.get("status").cloned().unwrap_or_default(),
            );
            let carried = conditions(old)
                .iter()
                .filter(|o| o.get("type") == Some(&t) && o.get("status") == Some(&s))
                .find_map(|o| o.get("lastTransitionTime").filter(|v| !v.is_null()))
                .cloned();
            m.insert(
                "lastTransitionTime".into(),
                carried.unwrap_or_else(|| now.into()),
            );
        }
    }
    set_conditions(new, cs);
}

/// The bytes of a `[]byte` field, as JSON carries them (base64).
fn bytes(csr: &Value, pointer: &str) -> Option<Vec<u8>> {
    let text = csr.pointer(pointer)?.as_str()?;
    Some(
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .unwrap_or_else(|_| text.as_bytes().to_vec()),
    )
}

/// Go's `%#v` of a `[]byte`, which is how field errors print one.
fn go_bytes(b: Option<&[u8]>) -> String {
    match b {
        None => "[]byte(nil)".into(),
        Some(b) => {
            let items: Vec<String> = b.iter().map(|x| format!("{x:#x}")).collect();
            format!("[]byte{{{}}}", items.join(", "))
        }
    }
}

/// `ParseCSR`'s first check: the first PEM block is a certificate request.
fn request_error(request: Option<&[u8]>) -> Option<&'static str> {
    let ok = request
        .and_then(|r| pem::parse(r).ok())
        .is_some_and(|p| p.tag() == "CERTIFICATE REQUEST");
    (!ok).then_some("PEM block type must be CERTIFICATE REQUEST")
}

/// `validateCertificate`: nothing, or CERTIFICATE blocks without headers.
fn certificate_error(cert: &[u8]) -> Option<String> {
    if cert.is_empty() {
        return None;
    }
    let blocks = pem::parse_many(cert).unwrap_or_default();
    for b in &blocks {
        if b.tag() != "CERTIFICATE" {
            return Some(format!(
                "only CERTIFICATE PEM blocks are allowed, found {:?}",
                b.tag()
            ));
        }
        if b.headers().iter().next().is_some() {
            return Some("no PEM block headers are permitted".into());
        }
    }
    blocks
        .is_empty()
        .then(|| "must contain at least one CERTIFICATE PEM block".into())
}

/// `IsDNS1123Label` (`max` 63) or, for one dot-free label,
/// `IsDNS1123Subdomain` (`max` 253): its messages.
fn dns_errors(s: &str, max: usize, shape: &str) -> Vec<String> {
    let mut out = Vec::new();
    if s.len() > max {
        out.push(format!("must be no more than {max} characters"));
    }
    if !super::is_label_segment(s, usize::MAX) {
        out.push(shape.into());
    }
    out
}

/// The causes of the first dot-separated label of `value` that
/// `dns_errors` refuses: upstream stops at the first, its later messages
/// being indistinguishable.
fn first_bad_label(value: &str, max: usize, shape: &str) -> Vec<String> {
    value
        .split('.')
        .map(|l| (l, dns_errors(l, max, shape)))
        .find(|(_, errs)| !errs.is_empty())
        .map(|(l, errs)| {
            errs.into_iter()
                .map(|e| format!("Invalid value: {value:?}: validating label {l:?}: {e}"))
                .collect()
        })
        .unwrap_or_default()
}

/// `ValidateSignerName` (pkg/apis/core/validation/validation.go).
fn signer_name_causes(name: &str, out: &mut Vec<(String, String)>) {
    let path = "spec.signerName";
    let mut push = |msg: String| out.push((path.into(), msg));
    if name.is_empty() {
        push("Required value".into());
        return;
    }
    let Some((domain, rest)) = name.split_once('/').filter(|(_, r)| !r.contains('/')) else {
        push(format!(
            "Invalid value: {name:?}: must be a fully qualified domain and path of the form 'example.com/signer-name'"
        ));
        return;
    };
    if domain.len() > 253 {
        push("Too long: may not be more than 253 bytes".into());
    }
    for cause in first_bad_label(domain, 63, super::DNS_LABEL_ERROR) {
        push(cause);
    }
    if domain.split('.').count() < 2 {
        push(format!(
            "Invalid value: {domain:?}: should be a domain with at least two segments separated by dots"
        ));
    }
    for cause in first_bad_label(rest, 253, super::DNS_SUBDOMAIN_ERROR) {
        push(cause);
    }
    if name.len() > 571 {
        push("Too long: may not be more than 571 bytes".into());
    }
}

/// What the old object already gets away with (`getValidationOptions`):
/// an update need not fix a problem it did not make.
#[derive(Default)]
struct Options {
    both_approved_and_denied: bool,
    legacy_signer: bool,
    duplicate_condition_types: bool,
    empty_condition_type: bool,
    unknown_usages: bool,
    duplicate_usages: bool,
    arbitrary_certificate: bool,
}

fn usages(csr: &Value) -> Vec<&str> {
    csr.pointer("/spec/usages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|u| u.as_str().unwrap_or_default())
        .collect()
}

fn has_duplicates<'a>(items: impl Iterator<Item = &'a str>) -> bool {
    let mut seen = std::collections::HashSet::new();
    items.into_iter().any(|i| !seen.insert(i))
}

impl Options {
    fn for_update(new: &Value, old: &Value) -> Self {
        let types = || conditions(old).iter().map(|c| field(c, "type"));
        let cert = |c: &Value| bytes(c, "/status/certificate").unwrap_or_default();
        let old_cert = cert(old);
        Options {
            both_approved_and_denied: !of_type(old, "Approved").is_empty()
                && !of_type(old, "Denied").is_empty(),
            legacy_signer: field(old.get("spec").unwrap_or(&Value::Null), "signerName")
                == LEGACY_SIGNER,
            duplicate_condition_types: has_duplicates(types()),
            empty_condition_type: types().any(str::is_empty),
            unknown_usages: usages(old).iter().any(|u| !USAGES.contains(u)),
            duplicate_usages: has_duplicates(usages(old).into_iter()),
            arbitrary_certificate: cert(new) == old_cert || certificate_error(&old_cert).is_some(),
        }
    }
}

/// `validateCertificateSigningRequest`: the spec, conditions and
/// certificate, in upstream's order.
fn base_causes(csr: &Value, o: &Options) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let request = bytes(csr, "/spec/request");
    if let Some(e) = request_error(request.as_deref()) {
        out.push((
            "spec.request".into(),
            format!("Invalid value: {}: {e}", go_bytes(request.as_deref())),
        ));
    }
    let us = usages(csr);
    if us.is_empty() {
        out.push(("spec.usages".into(), "Required value".into()));
    }
    if !o.unknown_usages {
        for (i, u) in us.iter().enumerate() {
            if !USAGES.contains(u) {
                let supported: Vec<String> = USAGES.iter().map(|s| format!("{s:?}")).collect();
                out.push((
                    format!("spec.usages[{i}]"),
                    format!(
                        "Unsupported value: {u:?}: supported values: {}",
                        supported.join(", ")
                    ),
                ));
            }
        }
    }
    if !o.duplicate_usages {
        let mut seen = std::collections::HashSet::new();
        for (i, u) in us.iter().enumerate() {
            if !seen.insert(*u) {
                out.push((
                    format!("spec.usages[{i}]"),
                    format!("Duplicate value: {u:?}"),
                ));
            }
        }
    }
    let signer = csr
        .pointer("/spec/signerName")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !o.legacy_signer && signer == LEGACY_SIGNER {
        out.push((
            "spec.signerName".into(),
            format!("Invalid value: {signer:?}: the legacy signerName is not allowed via this API version"),
        ));
    } else {
        signer_name_causes(signer, &mut out);
    }
    if let Some(s) = csr
        .pointer("/spec/expirationSeconds")
        .and_then(Value::as_i64)
        && s < 600
    {
        out.push((
            "spec.expirationSeconds".into(),
            format!(
                "Invalid value: {s}: may not specify a duration less than 600 seconds (10 minutes)"
            ),
        ));
    }
    condition_causes(csr, o, &mut out);
    if !o.arbitrary_certificate
        && let Some(e) = certificate_error(&bytes(csr, "/status/certificate").unwrap_or_default())
    {
        out.push((
            "status.certificate".into(),
            format!("Invalid value: \"<certificate data>\": {e}"),
        ));
    }
    out
}

/// `validateConditions`.
fn condition_causes(csr: &Value, o: &Options, out: &mut Vec<(String, String)>) {
    let (mut approved, mut denied) = (false, false);
    let mut seen = std::collections::HashSet::new();
    for (i, c) in conditions(csr).iter().enumerate() {
        let path = format!("status.conditions[{i}]");
        let (t, status) = (field(c, "type"), field(c, "status"));
        if !o.empty_condition_type && t.is_empty() {
            out.push((format!("{path}.type"), "Required value".into()));
        }
        let allowed: &[&str] = if matches!(t, "Approved" | "Denied" | "Failed") {
            &["True"]
        } else {
            &["False", "True", "Unknown"]
        };
        if status.is_empty() {
            out.push((format!("{path}.status"), "Required value".into()));
        } else if !allowed.contains(&status) {
            let supported: Vec<String> = allowed.iter().map(|s| format!("{s:?}")).collect();
            out.push((
                format!("{path}.status"),
                format!(
                    "Unsupported value: {status:?}: supported values: {}",
                    supported.join(", ")
                ),
            ));
        }
        if !o.both_approved_and_denied {
            let clash = match t {
                "Approved" => {
                    approved = true;
                    denied
                }
                "Denied" => {
                    denied = true;
                    approved
                }
                _ => false,
            };
            if clash {
                out.push((
                    format!("{path}.type"),
                    format!("Invalid value: {t:?}: Approved and Denied conditions are mutually exclusive"),
                ));
            }
        }
        if !o.duplicate_condition_types && !seen.insert(t) {
            out.push((format!("{path}.type"), format!("Duplicate value: {t:?}")));
        }
    }
}

/// The causes a create or an update of `part` earns.
pub(crate) fn causes(new: &Value, old: Option<&Value>, part: Part) -> Vec<(String, String)> {
    let Some(old) = old else {
        return base_causes(new, &Options::default());
    };
    let mut out = base_causes(new, &Options::for_update(new, old));
    let forbidden = |msg: String| ("status.conditions".to_string(), format!("Forbidden: {msg}"));
    for t in ["Approved", "Denied", "Failed"] {
        if of_type(new, t).len() < of_type(old, t).len() {
            out.push(forbidden(format!(
                "updates may not remove a condition of type {t:?}"
            )));
        }
    }
    if part != Part::Approval {
        // An in-place edit never reaches here: the main resource keeps the
        // old status and `/status` put the old conditions back.
        for t in ["Approved", "Denied"] {
            if of_type(new, t).len() > of_type(old, t).len() {
                out.push(forbidden(format!(
                    "updates may not add a condition of type {t:?}"
                )));
            }
        }
    }
    let cert = |c: &Value| bytes(c, "/status/certificate").unwrap_or_default();
    let old_cert = cert(old);
    if cert(new) != old_cert {
        if part != Part::Status {
            out.push((
                "status.certificate".into(),
                "Forbidden: updates may not set certificate content".into(),
            ));
        } else if !old_cert.is_empty() {
            out.push((
                "status.certificate".into(),
                "Forbidden: updates may not modify existing certificate content".into(),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer(name: &str) -> Vec<String> {
        let mut out = Vec::new();
        signer_name_causes(name, &mut out);
        out.into_iter().map(|(_, m)| m).collect()
    }

    /// `ValidateSignerName`'s cases, as its upstream unit test lists them.
    #[test]
    fn signer_names_are_a_domain_and_a_path() {
        assert!(signer("example.com/signer").is_empty());
        assert!(signer("example.com/a.b").is_empty());
        assert_eq!(signer(""), ["Required value"]);
        assert_eq!(
            signer("example.com"),
            [
                "Invalid value: \"example.com\": must be a fully qualified domain and path of the form 'example.com/signer-name'"
            ]
        );
        assert_eq!(
            signer("example/signer"),
            [
                "Invalid value: \"example\": should be a domain with at least two segments separated by dots"
            ]
        );
        let long = format!("{}.com/x", "a".repeat(64));
        assert_eq!(
            signer(&long),
            [format!(
                "Invalid value: \"{}.com\": validating label \"{}\": must be no more than 63 characters",
                "a".repeat(64),
                "a".repeat(64)
            )]
        );
        assert_eq!(signer("example.com/a..b").len(), 1);
    }

    #[test]
    fn byte_slices_print_as_go_sharp_v() {
        assert_eq!(go_bytes(None), "[]byte(nil)");
        assert_eq!(go_bytes(Some(b"")), "[]byte{}");
        assert_eq!(go_bytes(Some(b"-\n")), "[]byte{0x2d, 0xa}");
    }
}
