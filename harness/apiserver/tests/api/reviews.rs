//! The review APIs: authorization.k8s.io/v1 SubjectAccessReview,
//! LocalSubjectAccessReview, SelfSubjectAccessReview and
//! SelfSubjectRulesReview decided by RBAC over the stored roles and
//! bindings (`plugin/pkg/auth/authorizer/rbac/rbac.go` for the reasons,
//! `pkg/apis/rbac/v1/evaluation_helpers.go` for the matching), validated as
//! `pkg/apis/authorization/validation/validation.go` does, answered 201 as
//! `pkg/registry/authorization/*/rest.go`; and authentication.k8s.io/v1
//! SelfSubjectReview. A test can check an operator's RBAC manifests grant
//! what it needs, as `kubectl auth can-i --as` does on a cluster.

use k8s_openapi::api::authorization::v1::SubjectAccessReview;
use k8s_openapi::api::rbac::v1::{ClusterRoleBinding, Role, RoleBinding};
use kube::Client;
use kube::api::Api;
use serde_json::{Value, json};

use crate::common::{create, get, namespace, post_with_headers, send, server};

/// A Role that reads pods in `team`, bound to the `robot` service account
/// (the subject gives no namespace: the binding's counts).
async fn robot_reads_pods(client: &Client) {
    namespace(client, "team").await;
    create(
        &Api::<Role>::namespaced(client.clone(), "team"),
        json!({
            "metadata": {"name": "pod-reader"},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}],
        }),
    )
    .await;
    create(
        &Api::<RoleBinding>::namespaced(client.clone(), "team"),
        json!({
            "metadata": {"name": "read-pods"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "pod-reader"},
            "subjects": [{"kind": "ServiceAccount", "name": "robot"}],
        }),
    )
    .await;
}

/// A SubjectAccessReview for the robot, sent raw so the wire shape shows.
async fn review(client: &Client, verb: &str, namespace: &str) -> (u16, Value) {
    let (code, _, body) = send(
        client,
        "POST",
        "/apis/authorization.k8s.io/v1/subjectaccessreviews",
        &json!({
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SubjectAccessReview",
            "spec": {
                "user": "system:serviceaccount:team:robot",
                "groups": ["system:serviceaccounts", "system:serviceaccounts:team", "system:authenticated"],
                "resourceAttributes": {"namespace": namespace, "verb": verb, "resource": "pods"},
            },
        }),
    )
    .await;
    (code, body)
}

#[tokio::test]
async fn rbac_decides_a_subject_access_review_and_names_the_binding() {
    let (_server, client) = server().await;
    robot_reads_pods(&client).await;

    let (code, allowed) = review(&client, "get", "team").await;
    assert_eq!(code, 201, "{allowed}");
    assert_eq!(
        allowed["status"],
        json!({"allowed": true, "reason": "RBAC: allowed by RoleBinding \"read-pods/team\" of Role \"pod-reader\" to ServiceAccount \"robot/team\""})
    );
    // The request echoed: spec kept, never stored, so no creation time; the
    // writer recorded as the create handler's field manager records it.
    assert_eq!(allowed["metadata"]["creationTimestamp"], Value::Null);
    assert_eq!(
        allowed["metadata"]["managedFields"][0]["operation"],
        "Update"
    );
    assert_eq!(allowed["spec"]["resourceAttributes"]["verb"], "get");

    // No opinion elsewhere: `allowed: false`, no reason, no `denied`.
    let (_, other_namespace) = review(&client, "get", "default").await;
    assert_eq!(other_namespace["status"], json!({"allowed": false}));
    let (_, other_verb) = review(&client, "delete", "team").await;
    assert_eq!(other_verb["status"], json!({"allowed": false}));

    // A binding to a role that does not exist: the lister's error is the
    // reason of the refusal.
    create(
        &Api::<ClusterRoleBinding>::all(client.clone()),
        json!({
            "metadata": {"name": "dangling"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "missing"},
            "subjects": [{"kind": "Group", "name": "system:serviceaccounts"}],
        }),
    )
    .await;
    let (_, dangling) = review(&client, "delete", "team").await;
    assert_eq!(
        dangling["status"],
        json!({"allowed": false, "reason": "RBAC: clusterrole.rbac.authorization.k8s.io \"missing\" not found"})
    );

    // kube-rs's typed Api reads the same answer.
    let sar: SubjectAccessReview = serde_json::from_value(json!({
        "spec": {"user": "system:serviceaccount:team:robot", "resourceAttributes": {"namespace": "team", "verb": "list", "resource": "pods"}},
    }))
    .unwrap();
    let typed = Api::<SubjectAccessReview>::all(client.clone())
        .create(&Default::default(), &sar)
        .await
        .unwrap();
    assert!(typed.status.unwrap().allowed);
}

#[tokio::test]
async fn the_admin_is_allowed_everything_and_sees_the_bootstrap_rules() {
    let (_server, client) = server().await;
    let (code, _, ssar) = send(
        &client,
        "POST",
        "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
        &json!({"spec": {"resourceAttributes": {"verb": "delete", "group": "apps", "resource": "deployments"}}}),
    )
    .await;
    assert_eq!(code, 201, "{ssar}");
    // `system:masters` is allowed before RBAC is asked, with no reason.
    assert_eq!(ssar["status"], json!({"allowed": true}));

    let (code, _, rules) = send(
        &client,
        "POST",
        "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
        &json!({"spec": {"namespace": "default"}}),
    )
    .await;
    assert_eq!(code, 201, "{rules}");
    assert_eq!(rules["spec"], json!({}));
    assert_eq!(rules["status"]["incomplete"], false);
    let resource_rules = rules["status"]["resourceRules"].as_array().unwrap();
    assert!(
        resource_rules.contains(&json!({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]})),
        "cluster-admin's rule (bound to system:masters): {rules}"
    );
    assert!(
        resource_rules.contains(&json!({"verbs": ["create"], "apiGroups": ["authorization.k8s.io"], "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]})),
        "system:basic-user's rule (bound to system:authenticated): {rules}"
    );
    let (code, _, missing) = send(
        &client,
        "POST",
        "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
        &json!({"spec": {}}),
    )
    .await;
    assert_eq!(
        (code, missing["message"].clone()),
        (400, json!("no namespace on request"))
    );

    let (code, _, whoami) = send(
        &client,
        "POST",
        "/apis/authentication.k8s.io/v1/selfsubjectreviews",
        &json!({}),
    )
    .await;
    assert_eq!(code, 201, "{whoami}");
    assert_eq!(
        whoami["status"],
        json!({"userInfo": {"username": "system:admin", "groups": ["system:masters", "system:authenticated"]}})
    );
}

#[tokio::test]
async fn bad_reviews_get_kube_apiservers_errors() {
    let (_server, client) = server().await;
    let (code, _, empty) = send(
        &client,
        "POST",
        "/apis/authorization.k8s.io/v1/subjectaccessreviews",
        &json!({"spec": {}}),
    )
    .await;
    assert_eq!(code, 422);
    assert_eq!(
        empty["message"],
        ".authorization.k8s.io \"\" is invalid: [spec.resourceAttributes: Invalid value: \"null\": exactly one of nonResourceAttributes or resourceAttributes must be specified, spec.user: Invalid value: \"\": at least one of user or group must be specified]"
    );
    assert_eq!(empty["details"]["causes"][1]["field"], "spec.user");

    let (code, _, local) = send(
        &client,
        "POST",
        "/apis/authorization.k8s.io/v1/namespaces/team/localsubjectaccessreviews",
        &json!({"spec": {"user": "ann", "resourceAttributes": {"namespace": "other", "verb": "get", "resource": "pods"}}}),
    )
    .await;
    assert_eq!(code, 422);
    assert_eq!(
        local["message"],
        ".authorization.k8s.io \"\" is invalid: spec.resourceAttributes.namespace: Invalid value: \"other\": must match metadata.namespace"
    );

    let (code, _, named) = send(
        &client,
        "POST",
        "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
        &json!({"metadata": {"name": "x"}, "spec": {"nonResourceAttributes": {"path": "/healthz", "verb": "get"}}}),
    )
    .await;
    assert_eq!(code, 422);
    assert!(
        named["message"]
            .as_str()
            .unwrap()
            .starts_with(".authorization.k8s.io \"\" is invalid: metadata: Invalid value: v1.ObjectMeta{Name:\"x\", "),
        "{named}"
    );

    // RBAC names are path segments (`ValidateRBACName`): colons are fine,
    // a slash is not.
    let (code, _, colon) = send(
        &client,
        "POST",
        "/apis/rbac.authorization.k8s.io/v1/clusterroles",
        &json!({"metadata": {"name": "team:reader"}, "rules": []}),
    )
    .await;
    assert_eq!(code, 201, "{colon}");
    let (code, _, slash) = send(
        &client,
        "POST",
        "/apis/rbac.authorization.k8s.io/v1/clusterroles",
        &json!({"metadata": {"name": "team/reader"}, "rules": []}),
    )
    .await;
    assert_eq!(code, 422);
    assert_eq!(
        slash["message"],
        "ClusterRole.rbac.authorization.k8s.io \"team/reader\" is invalid: metadata.name: Invalid value: \"team/reader\": may not contain '/'"
    );

    // Create is the only verb; nothing is stored to read back.
    let (code, listed) = get(
        &client,
        "/apis/authorization.k8s.io/v1/subjectaccessreviews",
    )
    .await;
    assert_eq!(
        (code, listed["reason"].clone()),
        (405, json!("MethodNotAllowed"))
    );
    let (code, _) = get(
        &client,
        "/apis/authorization.k8s.io/v1/subjectaccessreviews/x",
    )
    .await;
    assert_eq!(code, 404);
}

#[tokio::test]
async fn discovery_lists_the_reviews_as_create_only() {
    let (_server, client) = server().await;
    let (_, authz) = get(&client, "/apis/authorization.k8s.io/v1").await;
    let listed: Vec<(String, Value)> = authz["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["name"].as_str().unwrap().to_string(), r["verbs"].clone()))
        .collect();
    let create = json!(["create"]);
    assert_eq!(
        listed,
        [
            ("localsubjectaccessreviews".to_string(), create.clone()),
            ("selfsubjectaccessreviews".to_string(), create.clone()),
            ("selfsubjectrulesreviews".to_string(), create.clone()),
            ("subjectaccessreviews".to_string(), create.clone()),
        ]
    );
    let (_, authn) = get(&client, "/apis/authentication.k8s.io/v1").await;
    assert_eq!(authn["resources"][0]["name"], "selfsubjectreviews");
    assert_eq!(authn["resources"][0]["verbs"], create);
}

/// A POST that impersonates `user` (with `groups`, if any), as kubectl
/// `--as`/`--as-group` send it.
async fn as_user(client: &Client, uri: &str, user: &str, groups: &[&str], body: Value) -> Value {
    let mut headers = vec![("Impersonate-User", user)];
    headers.extend(groups.iter().map(|g| ("Impersonate-Group", *g)));
    let (code, answer) = post_with_headers(client, uri, &headers, &body).await;
    assert_eq!(code, 201, "{answer}");
    answer
}

#[tokio::test]
async fn self_reviews_answer_for_the_impersonated_user() {
    let (_server, client) = server().await;
    robot_reads_pods(&client).await;
    // A RoleBinding may grant a ClusterRole within its namespace.
    create(
        &Api::<RoleBinding>::namespaced(client.clone(), "team"),
        json!({
            "metadata": {"name": "admin-ish"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
            "subjects": [{"kind": "User", "name": "ann"}],
        }),
    )
    .await;
    let ssar = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews";
    let ask = |verb: &str, namespace: &str| json!({"spec": {"resourceAttributes": {"namespace": namespace, "verb": verb, "resource": "pods"}}});
    let robot = "system:serviceaccount:team:robot";
    // Impersonating a service account gives it its groups, so the binding
    // to the account (and the admin's `system:masters` no more) decides.
    let listed = as_user(&client, ssar, robot, &[], ask("list", "team")).await;
    assert_eq!(listed["status"]["allowed"], true, "{listed}");
    let deleted = as_user(&client, ssar, robot, &[], ask("delete", "team")).await;
    assert_eq!(deleted["status"], json!({"allowed": false}));
    let ann = as_user(&client, ssar, "ann", &["devs"], ask("delete", "team")).await;
    assert_eq!(
        ann["status"]["reason"],
        "RBAC: allowed by RoleBinding \"admin-ish/team\" of ClusterRole \"cluster-admin\" to User \"ann\""
    );
    let elsewhere = as_user(&client, ssar, "ann", &["devs"], ask("delete", "default")).await;
    assert_eq!(elsewhere["status"], json!({"allowed": false}));
    // Any authenticated user may read discovery (`system:discovery`).
    let discovery = as_user(
        &client,
        ssar,
        "ann",
        &[],
        json!({"spec": {"nonResourceAttributes": {"path": "/apis/apps/v1", "verb": "get"}}}),
    )
    .await;
    assert_eq!(
        discovery["status"]["reason"],
        "RBAC: allowed by ClusterRoleBinding \"system:discovery\" of ClusterRole \"system:discovery\" to Group \"system:authenticated\""
    );
    let whoami = as_user(
        &client,
        "/apis/authentication.k8s.io/v1/selfsubjectreviews",
        robot,
        &[],
        json!({}),
    )
    .await;
    assert_eq!(
        whoami["status"]["userInfo"],
        json!({"username": robot, "groups": ["system:serviceaccounts", "system:serviceaccounts:team", "system:authenticated"]})
    );
}

#[tokio::test]
async fn a_local_review_answers_in_its_namespace() {
    let (_server, client) = server().await;
    robot_reads_pods(&client).await;
    // Zero-valued metadata counts as empty (`Semantic.DeepEqual`).
    let (code, _, local) = send(
        &client,
        "POST",
        "/apis/authorization.k8s.io/v1/namespaces/team/localsubjectaccessreviews",
        &json!({
            "metadata": {"name": "", "labels": {}},
            "spec": {"user": "system:serviceaccount:team:robot", "resourceAttributes": {"namespace": "team", "verb": "get", "resource": "pods"}},
        }),
    )
    .await;
    assert_eq!(code, 201, "{local}");
    assert_eq!(local["metadata"]["namespace"], "team");
    assert_eq!(local["status"]["allowed"], true);
    // An unknown field is refused when the client asks for strictness.
    let (code, _, strict) = send(
        &client,
        "POST",
        "/apis/authorization.k8s.io/v1/subjectaccessreviews?fieldValidation=Strict",
        &json!({"spec": {"user": "ann", "resourceAttributes": {"verb": "get", "resource": "pods", "bogus": 1}}}),
    )
    .await;
    assert_eq!(code, 400, "{strict}");
    assert!(
        strict["message"]
            .as_str()
            .unwrap()
            .contains("unknown field \"spec.resourceAttributes.bogus\""),
        "{strict}"
    );
}
