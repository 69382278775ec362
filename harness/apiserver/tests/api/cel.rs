//! CEL validation rules (`x-kubernetes-validations`) on a CRD's schema,
//! checked the way kube-apiserver words them. Expected texts come from
//! apiextensions-apiserver v0.33: `pkg/apiserver/schema/cel/validation.go`
//! (rule failures, runtime errors, ratcheting), `pkg/registry/customresource/
//! strategy.go` (rules skipped after a blocking schema error) and
//! `pkg/apis/apiextensions/validation/validation.go` (rules checked when the
//! CRD is written); field errors render as apimachinery's `field/errors.go`.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, PostParams};
use serde_json::{Value, json};

use crate::common::{send, server, status};

fn widget_crd(spec_rules: Value, note_rules: Value) -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.cel.harness.dev"},
        "spec": {
            "group": "cel.harness.dev",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "x-kubernetes-validations": [
                        {"rule": "self.spec.replicas <= self.spec.maxReplicas"}
                    ],
                    "properties": {"spec": {
                        "type": "object",
                        "x-kubernetes-validations": spec_rules,
                        "properties": {
                            "replicas": {"type": "integer", "x-kubernetes-validations": [
                                {"rule": "self >= 0", "message": "replicas must not be negative"}
                            ]},
                            "maxReplicas": {"type": "integer", "x-kubernetes-validations": [{
                                "rule": "!oldSelf.hasValue() || self >= oldSelf.value()",
                                "optionalOldSelf": true,
                                "message": "maxReplicas may not go down"
                            }]},
                            // A quantity of `oldSelf.value()` would be refused as too
                            // expensive: cel-go cannot size an optional's value.
                            "size": {"type": "string", "x-kubernetes-validations": [{
                                "rule": "quantity(self).compareTo(quantity(oldSelf)) >= 0",
                                "message": "size may not shrink"
                            }]},
                            "limit": {"type": "string"},
                            "mode": {"type": "string", "x-kubernetes-validations": [{
                                "rule": "self == oldSelf", "message": "mode is immutable",
                                "reason": "FieldValueForbidden"
                            }]},
                            "note": {"type": "string", "x-kubernetes-validations": note_rules},
                            "labels": {"type": "object", "additionalProperties": {"type": "string"}}
                        }
                    }}
                }}
            }]
        }
    })
}

/// The spec-level rules most tests use: the storage operator's
/// "limit below size" check, and a rule over a map's keys.
fn spec_rules() -> Value {
    json!([
        {
            "rule": "quantity(self.limit).compareTo(quantity(self.size)) >= 0",
            "messageExpression": "'limit ' + self.limit + ' is below size ' + self.size",
            "fieldPath": ".limit"
        },
        {
            "rule": "!has(self.labels) || self.labels.all(k, k.size() <= 10)",
            "message": "label keys are at most 10 characters",
            "fieldPath": ".labels"
        }
    ])
}

async fn install(client: &Client, crd: Value) {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.create(
        &PostParams::default(),
        &serde_json::from_value(crd).unwrap(),
    )
    .await
    .expect("CRD accepted");
}

fn widgets(client: &Client) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("cel.harness.dev", "v1", "Widget");
    Api::namespaced_with(client.clone(), "default", &ApiResource::from_gvk(&gvk))
}

fn widget(name: &str, spec: Value) -> DynamicObject {
    serde_json::from_value(json!({
        "apiVersion": "cel.harness.dev/v1", "kind": "Widget",
        "metadata": {"name": name}, "spec": spec
    }))
    .unwrap()
}

fn good_spec() -> Value {
    json!({"replicas": 1, "maxReplicas": 3, "size": "1Gi", "limit": "2Gi", "mode": "fast"})
}

/// (field, reason, message) of each cause of a 422.
fn causes(s: &kube::core::Status) -> Vec<(String, String, String)> {
    s.details
        .as_ref()
        .map(|d| {
            d.causes
                .iter()
                .map(|c| (c.field.clone(), c.reason.clone(), c.message.clone()))
                .collect()
        })
        .unwrap_or_default()
}

fn cause(field: &str, reason: &str, message: &str) -> (String, String, String) {
    (field.into(), reason.into(), message.into())
}

#[tokio::test(start_paused = true)]
async fn failing_rules_are_422s_at_their_paths_with_their_messages() {
    let (_s, client) = server().await;
    install(&client, widget_crd(spec_rules(), json!([]))).await;
    let api = widgets(&client);

    let mut spec = good_spec();
    spec["replicas"] = json!(5);
    spec["limit"] = json!("512Mi");
    spec["labels"] = json!({"much-too-long-key": "x"});
    let err = api
        .create(&PostParams::default(), &widget("w1", spec))
        .await
        .unwrap_err();
    let s = status(err);
    assert_eq!((s.code, s.reason.as_str()), (422, "Invalid"));
    let got = causes(&s);
    // The root reports at the nil path with the node's type as the value
    // and `failed rule: <rule>` for a rule without a message; fieldPath moves
    // the error, messageExpression words it.
    for want in [
        cause(
            "<nil>",
            "FieldValueInvalid",
            "Invalid value: \"object\": failed rule: self.spec.replicas <= self.spec.maxReplicas",
        ),
        cause(
            "spec.limit",
            "FieldValueInvalid",
            "Invalid value: \"object\": limit 512Mi is below size 1Gi",
        ),
        cause(
            "spec.labels",
            "FieldValueInvalid",
            "Invalid value: \"object\": label keys are at most 10 characters",
        ),
    ] {
        assert!(got.contains(&want), "missing {want:?} in {got:#?}");
    }
    assert_eq!(got.len(), 3, "{got:#?}");
    assert!(
        s.message
            .starts_with("Widget.cel.harness.dev \"w1\" is invalid: ["),
        "{}",
        s.message
    );

    let mut negative = good_spec();
    negative["replicas"] = json!(-1);
    let s = status(
        api.create(&PostParams::default(), &widget("w2", negative))
            .await
            .unwrap_err(),
    );
    assert_eq!(
        s.message,
        "Widget.cel.harness.dev \"w2\" is invalid: spec.replicas: Invalid value: \"integer\": replicas must not be negative"
    );

    api.create(&PostParams::default(), &widget("ok", good_spec()))
        .await
        .expect("a valid widget is accepted");
}

#[tokio::test(start_paused = true)]
async fn transition_rules_run_on_updates_only() {
    let (_s, client) = server().await;
    install(&client, widget_crd(spec_rules(), json!([]))).await;
    let api = widgets(&client);
    let created = api
        .create(&PostParams::default(), &widget("w", good_spec()))
        .await
        .expect("`self == oldSelf` is not run on create");

    let mut changed = created.clone();
    changed.data["spec"]["mode"] = json!("slow");
    let s = status(
        api.replace("w", &PostParams::default(), &changed)
            .await
            .unwrap_err(),
    );
    // reason FieldValueForbidden: `field.Forbidden`, which prints no value.
    assert_eq!(
        causes(&s),
        [cause(
            "spec.mode",
            "FieldValueForbidden",
            "Forbidden: mode is immutable"
        )]
    );

    // optionalOldSelf: the rule ran on create with oldSelf none, and now
    // compares with the stored value.
    let mut lowered = created.clone();
    lowered.data["spec"]["maxReplicas"] = json!(2);
    let s = status(
        api.replace("w", &PostParams::default(), &lowered)
            .await
            .unwrap_err(),
    );
    assert_eq!(
        causes(&s),
        [cause(
            "spec.maxReplicas",
            "FieldValueInvalid",
            "Invalid value: \"integer\": maxReplicas may not go down"
        )]
    );

    let mut shrunk = created.clone();
    shrunk.data["spec"]["size"] = json!("512Mi");
    shrunk.data["spec"]["limit"] = json!("1Gi");
    let s = status(
        api.replace("w", &PostParams::default(), &shrunk)
            .await
            .unwrap_err(),
    );
    assert_eq!(
        causes(&s),
        [cause(
            "spec.size",
            "FieldValueInvalid",
            "Invalid value: \"string\": size may not shrink"
        )]
    );

    let mut grown = created;
    grown.data["spec"]["size"] = json!("2Gi");
    api.replace("w", &PostParams::default(), &grown)
        .await
        .expect("growing is allowed");
}

#[tokio::test(start_paused = true)]
async fn unchanged_invalid_values_ratchet_to_warnings() {
    let (_s, client) = server().await;
    install(&client, widget_crd(spec_rules(), json!([]))).await;
    let api = widgets(&client);
    let mut spec = good_spec();
    spec["note"] = json!("far too long");
    api.create(&PostParams::default(), &widget("w", spec))
        .await
        .unwrap();

    // The rule arrives after the object was stored.
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let mut crd = crds.get("widgets.cel.harness.dev").await.unwrap();
    let tightened = widget_crd(
        spec_rules(),
        json!([{"rule": "self.size() <= 4", "message": "note is at most 4 characters"}]),
    );
    crd.spec = serde_json::from_value(tightened["spec"].clone()).unwrap();
    crds.replace("widgets.cel.harness.dev", &PostParams::default(), &crd)
        .await
        .unwrap();

    let uri = "/apis/cel.harness.dev/v1/namespaces/default/widgets/w";
    let mut stored = serde_json::to_value(api.get("w").await.unwrap()).unwrap();
    stored["spec"]["replicas"] = json!(2);
    let (code, warnings, body) = send(&client, "PUT", uri, &stored).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        warnings,
        [r#"299 - "spec.note: Invalid value: \"string\": note is at most 4 characters""#]
    );

    stored = body;
    stored["spec"]["note"] = json!("longer still");
    let (code, warnings, body) = send(&client, "PUT", uri, &stored).await;
    assert_eq!(code, 422, "a changed value is checked: {body}");
    assert!(warnings.is_empty());
    assert_eq!(
        body["details"]["causes"][0]["message"],
        "Invalid value: \"string\": note is at most 4 characters"
    );
}

#[tokio::test(start_paused = true)]
async fn a_blocking_schema_error_skips_the_rules() {
    let (_s, client) = server().await;
    install(&client, widget_crd(spec_rules(), json!([]))).await;
    let mut spec = good_spec();
    spec["replicas"] = json!("three");
    let s = status(
        widgets(&client)
            .create(&PostParams::default(), &widget("w", spec))
            .await
            .unwrap_err(),
    );
    let got = causes(&s);
    assert_eq!(got.len(), 2, "{got:#?}");
    assert_eq!(got[0].0, "spec.replicas");
    assert_eq!(got[0].1, "FieldValueTypeInvalid");
    assert_eq!(
        got[1],
        cause(
            "<nil>",
            "FieldValueInvalid",
            "Invalid value: \"null\": some validation rules were not checked because the object was invalid; correct the existing errors to complete validation"
        )
    );
}

#[tokio::test(start_paused = true)]
async fn runtime_errors_name_the_rule() {
    let (_s, client) = server().await;
    install(
        &client,
        widget_crd(
            json!([{"rule": "self.labels['tier'] == 'db'"}, {"rule": "quantity(self.limit).compareTo(quantity('1Gi')) != 0", "message": "not one gibibyte"}]),
            json!([]),
        ),
    )
    .await;
    let mut spec = good_spec();
    spec["limit"] = json!("lots");
    let s = status(
        widgets(&client)
            .create(&PostParams::default(), &widget("w", spec))
            .await
            .unwrap_err(),
    );
    let got = causes(&s);
    assert_eq!(
        got[0],
        cause(
            "spec",
            "FieldValueInvalid",
            "Invalid value: \"object\": no such key: labels evaluating rule: self.labels['tier'] == 'db'"
        )
    );
    // A runtime error quotes the rule's message when it has one.
    assert!(
        got[1].2.starts_with("Invalid value: \"object\": ")
            && got[1].2.ends_with(" evaluating rule: not one gibibyte"),
        "{got:#?}"
    );
}

#[tokio::test(start_paused = true)]
async fn rules_are_checked_when_the_crd_is_written() {
    let (_s, client) = server().await;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd = widget_crd(
        json!([
            {"rule": "self.replicas >"},
            {"rule": "self.replicas > 0", "reason": "Bogus"},
            {"rule": "self.replicas > 0", "fieldPath": ".nope"},
            {"rule": "self.replicas > 0", "optionalOldSelf": true},
            {"rule": "self.replicsa > 0"}
        ]),
        json!([{"rule": "  "}]),
    );
    let s = status(
        crds.create(
            &PostParams::default(),
            &serde_json::from_value(crd).unwrap(),
        )
        .await
        .unwrap_err(),
    );
    assert_eq!(s.code, 422);
    let got = causes(&s);
    let at = "spec.validation.openAPIV3Schema.properties[spec]";
    let rule0 = got
        .iter()
        .find(|c| c.0 == format!("{at}.x-kubernetes-validations[0].rule"))
        .unwrap_or_else(|| panic!("no compile error in {got:#?}"));
    assert!(
        rule0.2.starts_with(
            "Invalid value: apiextensions.ValidationRule{Rule:\"self.replicas >\", Message:\"\", MessageExpression:\"\", Reason:(*apiextensions.FieldValueErrorReason)(nil), FieldPath:\"\", OptionalOldSelf:(*bool)(nil)}: compilation failed: ERROR: <input>:1:"
        ),
        "{}",
        rule0.2
    );
    for want in [
        cause(
            &format!("{at}.x-kubernetes-validations[1].reason"),
            "FieldValueNotSupported",
            "Unsupported value: \"Bogus\": supported values: \"FieldValueDuplicate\", \"FieldValueForbidden\", \"FieldValueInvalid\", \"FieldValueRequired\"",
        ),
        cause(
            &format!("{at}.x-kubernetes-validations[2].fieldPath"),
            "FieldValueInvalid",
            "Invalid value: \".nope\": fieldPath must be a valid path",
        ),
        cause(
            &format!("{at}.x-kubernetes-validations[3].optionalOldSelf"),
            "FieldValueInvalid",
            "Invalid value: true: may not be set if oldSelf is not used in rule",
        ),
        // cel-go's checker: a field the schema does not declare.
        cause(
            &format!("{at}.x-kubernetes-validations[4].rule"),
            "FieldValueInvalid",
            "Invalid value: apiextensions.ValidationRule{Rule:\"self.replicsa > 0\", Message:\"\", MessageExpression:\"\", Reason:(*apiextensions.FieldValueErrorReason)(nil), FieldPath:\"\", OptionalOldSelf:(*bool)(nil)}: compilation failed: ERROR: <input>:1:5: undefined field 'replicsa'\n | self.replicsa > 0\n | ....^",
        ),
        cause(
            &format!("{at}.properties[note].x-kubernetes-validations[0].rule"),
            "FieldValueRequired",
            "Required value: rule is not specified",
        ),
    ] {
        assert!(got.contains(&want), "missing {want:?} in {got:#?}");
    }
    assert!(
        crds.get_opt("widgets.cel.harness.dev")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test(start_paused = true)]
async fn old_self_is_refused_where_list_items_do_not_correlate() {
    let (_s, client) = server().await;
    let mut crd = widget_crd(json!([]), json!([]));
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["tags"] = json!({
        "type": "array", "x-kubernetes-list-type": "set", "maxItems": 10,
        "items": {"type": "string", "maxLength": 16, "x-kubernetes-validations": [{"rule": "self == oldSelf"}]}
    });
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let s = status(
        crds.create(
            &PostParams::default(),
            &serde_json::from_value(crd).unwrap(),
        )
        .await
        .unwrap_err(),
    );
    let at = "spec.validation.openAPIV3Schema.properties[spec].properties[tags]";
    assert_eq!(
        causes(&s),
        [cause(
            &format!("{at}.items.x-kubernetes-validations[0].rule"),
            "FieldValueInvalid",
            &format!(
                "Invalid value: \"self == oldSelf\": oldSelf cannot be used on the uncorrelatable portion of the schema within {at}"
            )
        )]
    );
}

mod derived {
    //! The rules kube-rs's derive emits (`#[x_kube(validation = ...)]`),
    //! through the typed `Api` an operator uses.

    use kube::api::{Api, PostParams};
    use kube::{CustomResource, CustomResourceExt, KubeSchema};
    use serde::{Deserialize, Serialize};

    use crate::common::{server, status};

    #[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug)]
    #[kube(
        group = "derive.harness.dev",
        version = "v1",
        kind = "Bucket",
        namespaced
    )]
    #[x_kube(validation = Rule::new("self.minSize <= self.maxSize").message("minSize must not exceed maxSize").field_path(".minSize"))]
    #[serde(rename_all = "camelCase")]
    pub(crate) struct BucketSpec {
        min_size: i64,
        max_size: i64,
        #[x_kube(validation = Rule::new("self == oldSelf").message("region is immutable").reason(Reason::FieldValueForbidden))]
        region: String,
    }

    #[tokio::test(start_paused = true)]
    async fn rules_from_the_kube_derive_are_enforced() {
        let (_s, client) = server().await;
        let crds: Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> =
            Api::all(client.clone());
        crds.create(&PostParams::default(), &Bucket::crd())
            .await
            .expect("the derived CRD is accepted");
        let buckets: Api<Bucket> = Api::namespaced(client, "default");
        let spec = |min_size, region: &str| BucketSpec {
            min_size,
            max_size: 10,
            region: region.into(),
        };

        let s = status(
            buckets
                .create(&PostParams::default(), &Bucket::new("b", spec(11, "eu")))
                .await
                .unwrap_err(),
        );
        assert_eq!(
            s.message,
            "Bucket.derive.harness.dev \"b\" is invalid: spec.minSize: Invalid value: \"object\": minSize must not exceed maxSize"
        );

        let mut b = buckets
            .create(&PostParams::default(), &Bucket::new("b", spec(1, "eu")))
            .await
            .unwrap();
        b.spec.region = "us".into();
        let s = status(
            buckets
                .replace("b", &PostParams::default(), &b)
                .await
                .unwrap_err(),
        );
        assert_eq!(
            s.message,
            "Bucket.derive.harness.dev \"b\" is invalid: spec.region: Forbidden: region is immutable"
        );
    }
}

/// Rules whose estimated cost is over budget are refused when the CRD is
/// written (apiextensions-apiserver v0.33 `validation.go`:
/// `StaticEstimatedCostLimit`, `StaticEstimatedCRDCostLimit`,
/// `getCostErrorMessage`; the estimate is cel-go's `checker/cost.go` with
/// sizes from the schema): a loop in a loop over an unbounded list is, and
/// bounding the list (`maxItems`, `maxLength`) lets the same rule in. So is
/// a regular expression on a string in every item of an unbounded list,
/// since the rule runs once per item.
#[tokio::test]
async fn rules_over_the_cost_budget_are_refused_until_bounded() {
    let (_s, client) = server().await;
    let crd = |tags: Value, members: Value| {
        let mut crd = widget_crd(json!([]), json!([]));
        let props = crd
            .pointer_mut("/spec/versions/0/schema/openAPIV3Schema/properties/spec/properties")
            .unwrap();
        props["tags"] = tags;
        props["members"] = members;
        crd
    };
    let tags = |limits: Value| {
        let mut t = json!({
            "type": "array", "items": {"type": "string"},
            "x-kubernetes-validations": [{"rule": "self.all(x, self.all(y, x != y || true))"}]
        });
        for (k, v) in limits.as_object().unwrap() {
            t[k] = v.clone();
        }
        t
    };
    let members = |limits: Value| {
        let mut m = json!({"type": "array", "items": {"type": "object", "properties": {"name": {
            "type": "string",
            "x-kubernetes-validations": [{"rule": "self.matches('^[a-z]+$')"}]
        }}}});
        for (k, v) in limits.as_object().unwrap() {
            m[k] = v.clone();
        }
        m
    };
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let s = status(
        crds.create(
            &PostParams::default(),
            &serde_json::from_value(crd(tags(json!({})), members(json!({})))).unwrap(),
        )
        .await
        .unwrap_err(),
    );
    assert_eq!(s.code, 422);
    let advice = "(try simplifying the rule, or adding maxItems, maxProperties, and maxLength where arrays, maps, and strings are declared)";
    let root = "spec.validation.openAPIV3Schema";
    let tags_rule =
        format!("{root}.properties[spec].properties[tags].x-kubernetes-validations[0].rule");
    let name_rule = format!(
        "{root}.properties[spec].properties[members].items.properties[name].x-kubernetes-validations[0].rule"
    );
    let got = causes(&s);
    for want in [
        cause(
            &tags_rule,
            "FieldValueForbidden",
            &format!(
                "Forbidden: estimated rule cost exceeds budget by factor of more than 100x {advice}"
            ),
        ),
        cause(
            &name_rule,
            "FieldValueForbidden",
            &format!(
                "Forbidden: estimated rule cost exceeds budget by factor of more than 100x {advice}"
            ),
        ),
        cause(
            &tags_rule,
            "FieldValueForbidden",
            "Forbidden: contributed to estimated rule cost total exceeding cost limit for entire OpenAPIv3 schema",
        ),
        cause(
            root,
            "FieldValueForbidden",
            &format!(
                "Forbidden: x-kubernetes-validations estimated rule cost total for entire OpenAPIv3 schema exceeds budget by factor of more than 100x {advice}"
            ),
        ),
    ] {
        assert!(got.contains(&want), "missing {want:?} in {got:#?}");
    }

    let bounded = crd(
        tags(json!({"maxItems": 10, "items": {"type": "string", "maxLength": 16}})),
        members(json!({"maxItems": 10})),
    );
    crds.create(
        &PostParams::default(),
        &serde_json::from_value(bounded).unwrap(),
    )
    .await
    .expect("bounded lists fit the budget");
}
