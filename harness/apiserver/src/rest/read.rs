//! GET of one object and LIST with selectors and `limit`/`continue`.

use axum::response::Response;
use http::StatusCode;
use serde_json::{Value, json};

use super::{Render, Req, json_response, render_object};
use crate::error::ApiError;
use crate::selectors::{FieldSelector, LabelSelector};
use crate::store::ops::target;
use crate::store::{Key, meta};

pub(crate) fn get(req: Req) -> Result<Response, ApiError> {
    let name = req.name.clone().unwrap_or_default();
    let key = (req.namespace.clone().unwrap_or_default(), name.clone());
    let obj = req
        .shared
        .lock()
        .get(&req.info.gr(), &key)
        .ok_or_else(|| ApiError::not_found(target(&req.info, &name)))?;
    Ok(json_response(StatusCode::OK, &render_object(&req, &obj)))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// An opaque continue token: the list's resourceVersion and the last key.
fn encode_continue(rv: u64, last: &Key) -> String {
    hex(json!({"rv": rv, "ns": last.0, "name": last.1})
        .to_string()
        .as_bytes())
}

fn decode_continue(token: &str) -> Result<(u64, Key), ApiError> {
    let bad = || ApiError::bad_request(format!("continue key is not valid: {token:?}"));
    let v: Value = unhex(token)
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(bad)?;
    let rv = v.get("rv").and_then(Value::as_u64).ok_or_else(bad)?;
    let ns = v.get("ns").and_then(Value::as_str).ok_or_else(bad)?;
    let name = v.get("name").and_then(Value::as_str).ok_or_else(bad)?;
    Ok((rv, (ns.to_string(), name.to_string())))
}

/// The selection a list or watch asks for.
pub(crate) struct Filter {
    pub namespace: Option<String>,
    pub labels: LabelSelector,
    pub fields: FieldSelector,
}

impl Filter {
    pub(crate) fn from_req(req: &Req) -> Result<Self, ApiError> {
        Ok(Self {
            namespace: req.namespace.clone(),
            labels: LabelSelector::parse(req.params.get("labelSelector").unwrap_or(""))?,
            fields: FieldSelector::parse(req.params.get("fieldSelector").unwrap_or(""), &req.info)?,
        })
    }

    pub(crate) fn matches(&self, obj: &Value) -> bool {
        self.namespace
            .as_deref()
            .is_none_or(|ns| meta::namespace(obj) == ns)
            && self.labels.matches(obj)
            && self.fields.matches(obj)
    }

    fn unfiltered(&self) -> bool {
        self.labels.is_empty() && self.fields.is_empty()
    }
}

pub(crate) fn list(req: Req) -> Result<Response, ApiError> {
    let filter = Filter::from_req(&req)?;
    let limit = req
        .params
        .int("limit")?
        .filter(|l| *l > 0)
        .map(|l| l as usize);
    let start = req
        .params
        .get("continue")
        .map(decode_continue)
        .transpose()?;
    let (items, rv, next, remaining) = {
        let st = req.shared.lock();
        let rs = st
            .resources
            .get(&req.info.gr())
            .ok_or_else(ApiError::no_route)?;
        let list_rv = start.as_ref().map(|(rv, _)| *rv).unwrap_or(st.rv);
        let range: Box<dyn Iterator<Item = (&Key, &crate::store::Obj)>> =
            match (&start, &filter.namespace) {
                (Some((_, last)), _) => Box::new(rs.objects.range::<Key, _>((
                    std::ops::Bound::Excluded(last.clone()),
                    std::ops::Bound::Unbounded,
                ))),
                (None, Some(ns)) => {
                    Box::new(rs.objects.range::<Key, _>((ns.clone(), String::new())..))
                }
                (None, None) => Box::new(rs.objects.iter()),
            };
        let mut items = Vec::new();
        let mut next = None;
        let mut remaining = 0usize;
        for (key, obj) in range {
            if let Some(ns) = &filter.namespace
                && &key.0 != ns
            {
                break;
            }
            if !filter.matches(obj) {
                continue;
            }
            if limit.is_some_and(|l| items.len() >= l) {
                remaining += 1;
                continue;
            }
            items.push((key.clone(), obj.clone()));
        }
        if remaining > 0
            && let Some((last, _)) = items.last()
        {
            next = Some(encode_continue(list_rv, last));
        }
        (items, list_rv, next, remaining)
    };
    let objs: Vec<Value> = items
        .iter()
        .map(|(_, o)| super::as_version(&req.info, &req.version, o))
        .collect();
    let mut list_meta = json!({"resourceVersion": rv.to_string()});
    if let Some(next) = next {
        list_meta["continue"] = next.into();
        if filter.unfiltered() {
            list_meta["remainingItemCount"] = remaining.into();
        }
    }
    let body = match req.render {
        Render::Table => {
            let now = req.shared.lock().clock.now();
            crate::table::table(
                &req.info,
                &req.version,
                &objs,
                now,
                &req.params,
                Some(list_meta),
            )
        }
        Render::Metadata => json!({
            "kind": "PartialObjectMetadataList",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": list_meta,
            "items": objs.iter().map(crate::table::partial_metadata).collect::<Vec<_>>(),
        }),
        Render::Full => json!({
            "kind": format!("{}List", req.info.kind),
            "apiVersion": req.info.api_version(&req.version),
            "metadata": list_meta,
            "items": objs,
        }),
    };
    Ok(json_response(StatusCode::OK, &body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_tokens_round_trip_and_reject_garbage() {
        let key = ("ns".to_string(), "web-7".to_string());
        let t = encode_continue(42, &key);
        assert_eq!(decode_continue(&t).unwrap(), (42, key));
        assert_eq!(decode_continue("zz").unwrap_err().code, 400);
        assert_eq!(decode_continue(&hex(b"{}")).unwrap_err().code, 400);
    }
}
