//! Admission webhooks, called as apiserver's `admission/plugin/webhook`
//! calls them: mutating webhooks before the kind's own validation, their
//! JSON patches applied in turn (and `IfNeeded` ones called once more when a
//! later one changed the object), validating webhooks after
//! ValidatingAdmissionPolicy; configurations in name order, webhooks in
//! their list's order. Calls happen with the store unlocked (see
//! `rest::write`), so a slow webhook never stalls other requests.

mod call;
pub(crate) mod definitions;
mod review;

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

pub(crate) use call::WebhookHandler;
pub(crate) use call::{Route, Routes};

use super::conditions::{self, Matched};
use super::{Attributes, Operation, matching};
use crate::error::ApiError;
use crate::registry::GroupResource;
use crate::server::Shared;
use crate::store::{State, meta};
use call::Endpoint;
use review::Reply;

const GROUP: &str = "admissionregistration.k8s.io";
const MUTATING: &str = "mutatingwebhookconfigurations";
const VALIDATING: &str = "validatingwebhookconfigurations";

/// Writes no webhook sees, so a broken webhook can always be removed
/// (`rules.IsExemptAdmissionConfigurationResource`).
const EXEMPT: &[&str] = &[
    MUTATING,
    VALIDATING,
    "validatingadmissionpolicies",
    "validatingadmissionpolicybindings",
    "mutatingadmissionpolicies",
    "mutatingadmissionpolicybindings",
];

/// Whether any webhook is configured at all: writes take the one-lock path
/// when none is.
pub(crate) fn configured(st: &State) -> bool {
    [MUTATING, VALIDATING].iter().any(|plural| {
        st.resources
            .get(&GroupResource::new(GROUP, plural))
            .is_some_and(|rs| !rs.objects.is_empty())
    })
}

/// One configured webhook of the kind being run.
struct Hook {
    name: String,
    spec: Value,
    mutating: bool,
}

impl Hook {
    fn text(&self, key: &str) -> &str {
        self.spec.get(key).and_then(Value::as_str).unwrap_or("")
    }

    fn fails_closed(&self) -> bool {
        self.text("failurePolicy") != "Ignore"
    }

    fn reinvoked_if_needed(&self) -> bool {
        self.text("reinvocationPolicy") == "IfNeeded"
    }

    fn timeout(&self) -> Duration {
        let secs = self
            .spec
            .get("timeoutSeconds")
            .and_then(Value::as_u64)
            .unwrap_or(10);
        Duration::from_secs(secs)
    }

    /// `ShouldCallHook`'s selectors and rules (match conditions wait for the
    /// call). A namespace that does not exist is its NotFound, whatever the
    /// failure policy.
    fn matches(&self, st: &State, a: &Attributes<'_>) -> Result<bool, ApiError> {
        let rules = self.spec.get("rules").cloned().unwrap_or(Value::Null);
        if rules.as_array().is_none_or(Vec::is_empty) {
            return Ok(false);
        }
        let criteria = serde_json::json!({
            "namespaceSelector": self.spec.get("namespaceSelector"),
            "objectSelector": self.spec.get("objectSelector"),
            "resourceRules": rules,
        });
        matching::matches(st, a, &criteria).map_err(|message| {
            let mut e = ApiError::new(http::StatusCode::NOT_FOUND, "NotFound", message);
            let ns = if a.namespace.is_empty() {
                a.name
            } else {
                a.namespace
            };
            e.details = serde_json::json!({"name": ns, "kind": "namespaces"});
            e
        })
    }
}

/// The webhooks of one kind of configuration: configurations by name
/// (`sort.SliceStable` by name upstream), webhooks in their list's order.
fn configured_hooks(st: &State, a: &Attributes<'_>, plural: &str) -> Vec<Hook> {
    if a.info.group == GROUP && EXEMPT.contains(&a.info.plural.as_str()) {
        return Vec::new();
    }
    let Some(rs) = st.resources.get(&GroupResource::new(GROUP, plural)) else {
        return Vec::new();
    };
    let mut configs: Vec<_> = rs.objects.values().collect();
    configs.sort_by(|x, y| meta::name(x).cmp(meta::name(y)));
    configs
        .into_iter()
        .flat_map(|config| {
            config
                .get("webhooks")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        })
        .map(|spec| Hook {
            name: meta::text(&spec, "name").to_string(),
            spec,
            mutating: plural == MUTATING,
        })
        .collect()
}

/// What one call came to.
enum Called {
    /// Not called: it did not match, or a match condition was false.
    Skipped,
    /// Called, but the call failed and the failure policy is Ignore.
    FailedOpen,
    Allowed(Reply),
}

/// Calls one webhook if it applies: rules and selectors, match conditions,
/// the dry-run guard, the round trip, then the failure policy on anything
/// that went wrong with the call.
async fn call(shared: &Arc<Shared>, hook: &Hook, a: &Attributes<'_>) -> Result<Called, ApiError> {
    if !hook.matches(&shared.lock(), a)? {
        return Ok(Called::Skipped);
    }
    let request = a.request();
    let vars = || {
        vec![
            ("object", value_of(a.object)),
            ("oldObject", value_of(a.old_object)),
            ("request", crate::cel_rules::value::untyped(&request)),
        ]
    };
    let conditions_list: Vec<Value> = hook
        .spec
        .get("matchConditions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    match conditions::check(&conditions_list, vars) {
        Matched::No => return Ok(Called::Skipped),
        Matched::Yes => {}
        Matched::Errors(_) if !hook.fails_closed() => return Ok(Called::Skipped),
        Matched::Errors(errors) => {
            return Err(super::forbidden(a, &conditions::aggregate(errors)));
        }
    }
    let outcome = match hook.text("sideEffects") {
        _ if !a.dry_run => round_trip(shared, hook, a).await,
        "None" | "NoneOnDryRun" => round_trip(shared, hook, a).await,
        "" => Err("Webhook SideEffects is nil".to_string()),
        _ => return Err(review::dry_run_unsupported(&hook.name)),
    };
    match outcome {
        Ok(reply) if reply.allowed => Ok(Called::Allowed(reply)),
        Ok(reply) => {
            reply.warn();
            Err(reply.denied(&hook.name))
        }
        Err(_) if !hook.fails_closed() => Ok(Called::FailedOpen),
        Err(e) => Err(review::call_failed(&hook.name, &e)),
    }
}

/// Sends the AdmissionReview and verifies the answer.
async fn round_trip(
    shared: &Arc<Shared>,
    hook: &Hook,
    a: &Attributes<'_>,
) -> Result<Reply, String> {
    let version = review::version(&hook.spec)?;
    let endpoint = Endpoint::resolve(
        hook.spec.get("clientConfig").unwrap_or(&Value::Null),
        &shared.webhook_routes,
        hook.timeout(),
    )?;
    let uid = uuid::Uuid::new_v4().to_string();
    let body = endpoint
        .call(review::request(a, &uid, version), hook.timeout())
        .await?;
    review::reply(&body, &uid, version, hook.mutating)
}

fn value_of(v: Option<&Value>) -> kube_cel::cel::Value {
    v.map_or(kube_cel::cel::Value::Null, crate::cel_rules::value::untyped)
}

/// Runs the mutating webhooks on a write and returns the object they leave
/// (defaults applied after each patch). On DELETE they may refuse but have
/// no object to change. A webhook that asks for `IfNeeded` reinvocation is
/// called once more, in a second round, when a webhook after it changed the
/// object (`mutating/reinvocationcontext.go`).
pub(crate) async fn mutate(
    shared: &Arc<Shared>,
    a: &Attributes<'_>,
    object: Option<Value>,
) -> Result<Option<Value>, ApiError> {
    let hooks = configured_hooks(&shared.lock(), a, MUTATING);
    let mut object = object;
    // `previouslyInvoked` and `reinvoke`, by position.
    let mut invoked = vec![false; hooks.len()];
    let mut reinvoke = vec![false; hooks.len()];
    for round in 0..2 {
        for (i, hook) in hooks.iter().enumerate() {
            if round == 1 && !reinvoke[i] {
                continue;
            }
            let at = Attributes {
                object: object.as_ref(),
                ..*a
            };
            let reply = match call(shared, hook, &at).await? {
                Called::Skipped => continue,
                // Still counted as invoked for reinvocation, as upstream.
                Called::FailedOpen => {
                    if round == 0 {
                        invoked[i] = hook.reinvoked_if_needed();
                    }
                    continue;
                }
                Called::Allowed(reply) => reply,
            };
            reply.warn();
            let changed = match object.as_ref() {
                Some(obj) if a.operation != Operation::Delete => {
                    let mut patched = reply.patched(obj)?;
                    // A subresource's own kind (Scale, Eviction) has no defaults.
                    if a.kind.is_none() {
                        crate::defaults::apply(&a.info.group, &a.info.plural, &mut patched);
                    }
                    let changed = patched != *obj;
                    object = Some(patched);
                    changed
                }
                _ if reply.has_patch() => return Err(review::cannot_modify(&hook.name)),
                _ => false,
            };
            if round == 0 {
                if changed {
                    for j in 0..i {
                        reinvoke[j] |= std::mem::take(&mut invoked[j]);
                    }
                }
                invoked[i] = hook.reinvoked_if_needed();
            }
        }
        if !reinvoke.contains(&true) {
            break;
        }
    }
    Ok(object)
}

/// Runs the validating webhooks (upstream calls them in parallel and
/// answers with the first refusal to arrive; here they are called in order
/// and the first in order answers). Warnings come from all of them.
pub(crate) async fn validate(shared: &Arc<Shared>, a: &Attributes<'_>) -> Result<(), ApiError> {
    let hooks = configured_hooks(&shared.lock(), a, VALIDATING);
    let mut first_error = None;
    for hook in &hooks {
        match call(shared, hook, a).await {
            Ok(Called::Allowed(reply)) => reply.warn(),
            Ok(Called::Skipped | Called::FailedOpen) => {}
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    first_error.map_or(Ok(()), Err)
}
