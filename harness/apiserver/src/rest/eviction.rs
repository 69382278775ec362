//! `POST pods/{name}/eviction`: a delete that asks the pod's
//! PodDisruptionBudget first, with kube-apiserver's rules
//! (pkg/registry/core/pod/storage/eviction.go).
//!
//! Why it matters for a fake: drain tools and operators retry on 429 and
//! give up on anything else, so the refusal must carry the same code,
//! reason, message and `DisruptionBudget` cause a real cluster sends, and a
//! granted eviction must leave the budget decremented (with the pod in
//! `status.disruptedPods`) until the disruption controller recomputes it.
//!
//! Upstream reads the pod, then the budgets, then decrements with a retry
//! loop against concurrent writers. Here one store transaction does all of
//! it, so there is nothing to retry and no window in which two evictions can
//! both spend the last allowed disruption.

use axum::response::Response;
use http::StatusCode;
use serde_json::{Value, json};

use super::{Req, hooked, json_response, write::delete_opts_from};
use crate::admission::{self, EVICTION, Operation, webhooks};
use crate::error::ApiError;
use crate::selectors::LabelSelector;
use crate::store::ops::{self, DeleteAdmission, DeleteOpts, Part, WriteOpts};
use crate::store::{ObjRef, State, meta};

/// Upstream refuses evictions once this many approved evictions wait for the
/// disruption controller to notice them.
const MAX_DISRUPTED_PODS: usize = 2000;

/// The identity kube-apiserver's loopback client writes budgets under.
const MANAGER: &str = "kube-apiserver";

const BLOCKED: &str = "Cannot evict pod as it would violate the pod's disruption budget.";

/// Admission sees the eviction as a CREATE of a `policy/v1` Eviction on
/// the pod's `eviction` subresource: mutating webhooks before the name
/// check, policies and validating webhooks after it, all before any budget
/// is consulted; the pod's delete is not admitted again.
pub(super) async fn evict(mut req: Req) -> Result<Response, ApiError> {
    let mut eviction = req.object().await?;
    let name = req.name.clone().unwrap_or_default();
    let namespace = req.namespace.clone().unwrap_or_default();
    // `EnsureObjectNamespaceMatchesRequestNamespace`: the pod's namespace
    // (the Eviction is read in the pods resource's scope).
    ops::check_namespace(&req.info, req.namespace.as_deref(), &mut eviction)?;
    // Decoded and handed to admission as a policy/v1 Eviction, whatever
    // version (or none) the client wrote.
    if let Some(m) = eviction.as_object_mut() {
        m.insert("apiVersion".into(), "policy/v1".into());
        m.insert("kind".into(), "Eviction".into());
    }
    let hooked = hooked::configured(&req);
    let w = hooked::Write::of(&req);
    let key = (namespace.clone(), name.clone());
    let scope = ("eviction", Some(EVICTION));
    // Admission's dryRun is the request's (its CreateOptions), whatever
    // the Eviction's deleteOptions ask (`handlers/create.go`).
    let dry_run = req.params.dry_run();
    if hooked {
        let a = hooked::attributes(
            &w,
            Operation::Create,
            scope,
            &key,
            Some(&eviction),
            None,
            dry_run,
        );
        if let Some(mutated) = webhooks::mutate(w.shared, &a, Some(eviction.clone())).await? {
            eviction = mutated;
        }
    }
    if meta::name(&eviction) != name {
        return Err(ApiError::bad_request(
            "name in URL does not match name in Eviction object",
        ));
    }
    let body_opts = eviction.get("deleteOptions").cloned().unwrap_or(json!({}));
    let body_dry_run = dry_run_list(&body_opts);
    let param_dry_run: Vec<String> = req
        .params
        .get("dryRun")
        .map(str::to_string)
        .into_iter()
        .collect();
    if !body_dry_run.is_empty() && !param_dry_run.is_empty() && body_dry_run != param_dry_run {
        return Err(ApiError::internal(format!(
            "Internal error occurred: Non-matching dry-run options in request and content: {param_dry_run:?} and {body_dry_run:?}"
        )));
    }
    let mut opts = delete_opts_from(&req, &body_opts)?;
    opts.admission = DeleteAdmission::Skipped;
    let a = hooked::attributes(
        &w,
        Operation::Create,
        scope,
        &key,
        Some(&eviction),
        None,
        dry_run,
    );
    if hooked {
        w.shared.write(|st| admission::validate(st, &a))?;
        webhooks::validate(w.shared, &a).await?;
    }
    let at = ObjRef {
        gr: req.info.gr(),
        key: (namespace.clone(), name.clone()),
    };
    req.shared.write(|st| {
        if !hooked {
            admission::validate(st, &a)?;
        }
        evict_in(st, &req, &at, opts)
    })?;
    Ok(json_response(
        StatusCode::CREATED,
        &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}),
    ))
}

fn dry_run_list(opts: &Value) -> Vec<String> {
    meta::strings(opts.get("dryRun"))
}

fn phase(pod: &Value) -> &str {
    pod.pointer("/status/phase")
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// Pending and finished pods (and pods already going) cost no availability,
/// so upstream deletes them without asking a budget.
fn can_ignore_budget(pod: &Value) -> bool {
    matches!(phase(pod), "Pending" | "Succeeded" | "Failed")
        || meta::deletion_timestamp(pod).is_some()
}

fn is_ready(pod: &Value) -> bool {
    pod.pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True")
}

fn evict_in(st: &mut State, req: &Req, at: &ObjRef, opts: DeleteOpts) -> Result<(), ApiError> {
    let pod = st
        .get(&at.gr, &at.key)
        .ok_or_else(|| ApiError::not_found(ops::target(&req.info, &at.key.1)))?;
    let rv_unset = opts.resource_version.is_none();
    // Pinning the pod's resourceVersion makes the delete fail if the pod
    // changed (became ready) since the budget was consulted.
    let pinned = |mut o: DeleteOpts| {
        if o.resource_version.is_none() {
            o.resource_version = Some(meta::resource_version(&pod).to_string());
        }
        o
    };
    if can_ignore_budget(&pod) {
        let terminal = matches!(phase(&pod), "Succeeded" | "Failed")
            || meta::deletion_timestamp(&pod).is_some();
        let o = if terminal { opts } else { pinned(opts) };
        ops::delete(st, &req.info, at, &o)?;
        return Ok(());
    }

    let budgets = budgets_for(st, &pod);
    if budgets.len() > 1 {
        // Upstream answers a bare Status (no reason) with code 500.
        return Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "",
            "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.",
        ));
    }
    let Some(pdb) = budgets.into_iter().next() else {
        ops::delete(st, &req.info, at, &opts)?;
        return Ok(());
    };
    let pdb_name = meta::name(&pdb).to_string();
    let status_int = |field: &str| {
        pdb.pointer(&format!("/status/{field}"))
            .and_then(Value::as_i64)
            .unwrap_or(0)
    };

    if !is_ready(&pod) {
        let always = pdb.pointer("/spec/unhealthyPodEvictionPolicy") == Some(&json!("AlwaysAllow"));
        let (current, desired) = (status_int("currentHealthy"), status_int("desiredHealthy"));
        if always || (current >= desired && desired > 0) {
            // An unready pod does not count as healthy: deleting it spends
            // nothing, as long as it is still unready when it goes.
            return match ops::delete(st, &req.info, at, &pinned(opts)) {
                Err(e) if e.code == StatusCode::CONFLICT && rv_unset => {
                    Err(still_processing(&pdb_name))
                }
                other => other.map(|_| ()),
            };
        }
    }

    check_budget(&pdb, &pdb_name, status_int)?;
    // Fail on the pod's own preconditions before spending the budget.
    let mut probe = opts.clone();
    probe.dry_run = true;
    ops::delete(st, &req.info, at, &probe)?;
    if !opts.dry_run {
        spend(st, pdb, &at.key.1)?;
    }
    ops::delete(st, &req.info, at, &opts)?;
    Ok(())
}

/// The refusals upstream's checkAndDecrement gives, in its order.
fn check_budget(pdb: &Value, name: &str, status_int: impl Fn(&str) -> i64) -> Result<(), ApiError> {
    let generation = pdb
        .pointer("/metadata/generation")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if status_int("observedGeneration") < generation {
        return Err(still_processing(name));
    }
    let allowed = status_int("disruptionsAllowed");
    if allowed < 0 {
        return Err(budget_forbidden(
            name,
            "pdb disruptions allowed is negative",
        ));
    }
    let disrupted = pdb
        .pointer("/status/disruptedPods")
        .and_then(Value::as_object)
        .map_or(0, |m| m.len());
    if disrupted > MAX_DISRUPTED_PODS {
        return Err(budget_forbidden(
            name,
            "DisruptedPods map too big - too many evictions not confirmed by PDB controller",
        ));
    }
    if allowed == 0 {
        return Err(too_many_requests(
            0,
            format!(
                "The disruption budget {name} needs {} healthy pods and has {} currently",
                status_int("desiredHealthy"),
                status_int("currentHealthy")
            ),
        ));
    }
    Ok(())
}

/// Decrements `disruptionsAllowed` and records the pod in `disruptedPods`,
/// so the disruption controller does not count it as healthy meanwhile.
fn spend(st: &mut State, mut pdb: Value, pod: &str) -> Result<(), ApiError> {
    let info = st
        .lookup("policy", "v1", "poddisruptionbudgets")
        .ok_or_else(|| ApiError::internal("poddisruptionbudgets are not served"))?;
    let now = st.now();
    let status = pdb
        .as_object_mut()
        .map(|o| o.entry("status").or_insert_with(|| json!({})))
        .ok_or_else(|| ApiError::internal("stored PodDisruptionBudget is not an object"))?;
    let allowed = status["disruptionsAllowed"].as_i64().unwrap_or(0) - 1;
    status["disruptionsAllowed"] = json!(allowed);
    if allowed == 0 {
        let observed = status["observedGeneration"].clone();
        set_disruption_allowed_false(status, observed, &now);
    }
    if !status["disruptedPods"].is_object() {
        status["disruptedPods"] = json!({});
    }
    status["disruptedPods"][pod] = json!(now);
    let ns = meta::namespace(&pdb).to_string();
    let name = meta::name(&pdb).to_string();
    let write = WriteOpts {
        manager: Some(MANAGER.into()),
        ..Default::default()
    };
    ops::update(st, &info, "v1", Some(&ns), &name, pdb, Part::Status, write)?;
    Ok(())
}

/// Upstream's UpdateDisruptionAllowedCondition for a budget that just ran out.
fn set_disruption_allowed_false(status: &mut Value, observed: Value, now: &str) {
    if !status["conditions"].is_array() {
        status["conditions"] = json!([]);
    }
    let conditions = status["conditions"]
        .as_array_mut()
        .expect("just made an array");
    let fresh = json!({
        "type": "DisruptionAllowed",
        "status": "False",
        "reason": "InsufficientPods",
        "message": "",
        "observedGeneration": observed,
        "lastTransitionTime": now,
    });
    match conditions
        .iter_mut()
        .find(|c| c["type"] == "DisruptionAllowed")
    {
        Some(c) => {
            if c["status"] == "False"
                && let Some(t) = c.get("lastTransitionTime").cloned()
            {
                let mut kept = fresh;
                kept["lastTransitionTime"] = t;
                *c = kept;
                return;
            }
            *c = fresh;
        }
        None => conditions.push(fresh),
    }
}

/// Budgets in the pod's namespace whose selector matches it. A budget with an
/// empty or unparseable selector matches nothing, as upstream.
fn budgets_for(st: &State, pod: &Value) -> Vec<Value> {
    let ns = meta::namespace(pod);
    let Some(rs) = st.resources.get(&crate::registry::GroupResource::new(
        "policy",
        "poddisruptionbudgets",
    )) else {
        return Vec::new();
    };
    rs.objects
        .range((ns.to_string(), String::new())..)
        .take_while(|(key, _)| key.0 == ns)
        .filter(|(_, pdb)| {
            pdb.pointer("/spec/selector")
                .and_then(LabelSelector::from_object)
                .is_some_and(|s| !s.is_empty() && s.matches(pod))
        })
        .map(|(_, pdb)| (**pdb).clone())
        .collect()
}

fn too_many_requests(retry_after: u32, cause: String) -> ApiError {
    let mut e = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "TooManyRequests", BLOCKED);
    let mut details = json!({"causes": [{"reason": "DisruptionBudget", "message": cause}]});
    if retry_after > 0 {
        details["retryAfterSeconds"] = json!(retry_after);
    }
    e.details = details;
    e
}

/// The budget exists but the disruption controller has not caught up with
/// its latest spec (or the pod changed under an unready-pod eviction).
fn still_processing(name: &str) -> ApiError {
    too_many_requests(
        10,
        format!("The disruption budget {name} is still being processed by the server."),
    )
}

fn budget_forbidden(name: &str, why: &str) -> ApiError {
    let mut e = ApiError::forbidden(format!(
        "poddisruptionbudget.policy \"{name}\" is forbidden: {why}"
    ));
    e.details = json!({"name": name, "group": "policy", "kind": "poddisruptionbudget"});
    e
}
